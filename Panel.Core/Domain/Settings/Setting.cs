namespace Panel.Core.Domain.Settings;

/// <summary>One installation-wide setting that admins change at run time (stored as text).</summary>
public sealed class Setting
{
    /// <summary>The key, one of <see cref="SettingKeys"/>.</summary>
    public string Key { get; set; } = "";

    /// <summary>The value in invariant text form.</summary>
    public string Value { get; set; } = "";

    /// <summary>When it last changed (UTC).</summary>
    public DateTime UpdatedAt { get; set; }

    /// <summary>Who last changed it (email), or <c>system</c>.</summary>
    public string UpdatedBy { get; set; } = "";
}
