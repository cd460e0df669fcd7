namespace Panel.Core.Domain.Hosting;

/// <summary>A tenant's web hosting: their plan and the one container (a VPS row) all their sites run in.</summary>
public sealed class HostingSpace
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The tenant; one space per tenant.</summary>
    public Guid OwnerId { get; set; }

    /// <summary>The plan.</summary>
    public int PlanId { get; set; }

    /// <summary>The plan.</summary>
    public HostingPlan Plan { get; set; } = default!;

    /// <summary>The container serving the sites (created with the first site), or null before.</summary>
    public int? VpsId { get; set; }

    /// <summary>The container.</summary>
    public Compute.Vps? Vps { get; set; }

    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>
    /// The port of the panel's SFTP gateway that forwards to this space's container (port 22), unique; allocated
    /// from <c>Panel:Edge:SftpFirstPort</c> when the space is made.
    /// </summary>
    public int SftpPort { get; set; }

    /// <summary>
    /// The crypt(3) hash of the SFTP password as the container's <c>/etc/shadow</c> holds it (never the password),
    /// or null when none is set; kept so a re-created container gets it back (<c>chpasswd -e</c>).
    /// </summary>
    public string? SftpPasswordHash { get; set; }

    /// <summary>The sites.</summary>
    public List<Site> Sites { get; set; } = [];
}
