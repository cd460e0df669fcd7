namespace Panel.Core.Domain.Compute;

/// <summary>An operating system image customers can install (built on each node by <c>./panel images</c>).</summary>
public sealed class OsImage
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The engine's image name, e.g. <c>debian-12</c>; nodes report which they have.</summary>
    public string Name { get; set; } = "";

    /// <summary>Shown to customers, e.g. "Debian 12 (bookworm)".</summary>
    public string DisplayName { get; set; } = "";

    /// <summary>Whether it can be chosen for new VPSes.</summary>
    public bool Active { get; set; } = true;

    /// <summary>Position in lists.</summary>
    public int SortOrder { get; set; }

    /// <summary>When it was added (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}
