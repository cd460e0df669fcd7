namespace Panel.Core.Domain.Compute;

/// <summary>
/// A backup of a VPS: one compressed archive (with its manifest and checksum) in the backups
/// folder, which every node of the guest network reaches (a shared mount in production), so a
/// backup restores on any node.
/// </summary>
public sealed class VpsBackup
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The VPS.</summary>
    public int VpsId { get; set; }

    /// <summary>The archive's path.</summary>
    public string Archive { get; set; } = "";

    /// <summary>The archive's size.</summary>
    public long SizeBytes { get; set; }

    /// <summary>How the disk was made consistent (e.g. "frozen", "stopped").</summary>
    public string Consistency { get; set; } = "";

    /// <summary>The operation that made it.</summary>
    public long OperationId { get; set; }

    /// <summary>When it was taken (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}
