namespace Panel.Core.Domain.Compute;

/// <summary>A snapshot of a VPS's disk, kept on its node (the row lets pages list them without asking the node).</summary>
public sealed class VpsSnapshot
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The VPS.</summary>
    public int VpsId { get; set; }

    /// <summary>Its name (unique per VPS).</summary>
    public string Name { get; set; } = "";

    /// <summary>When it was taken (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Its size on the node, as the engine reported.</summary>
    public long SizeBytes { get; set; }
}
