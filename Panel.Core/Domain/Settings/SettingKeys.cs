namespace Panel.Core.Domain.Settings;

/// <summary>The keys of <see cref="Setting"/> rows.</summary>
public static class SettingKeys
{
    /// <summary>Whether visitors may create customer accounts themselves (default: yes).</summary>
    public const string SignUpEnabled = "signup.enabled";
}
