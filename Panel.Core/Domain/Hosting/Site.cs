namespace Panel.Core.Domain.Hosting;

/// <summary>How a site is served.</summary>
public enum SiteKind
{
    /// <summary>Static files served by the container's web server.</summary>
    Static,

    /// <summary>Served by the tenant's own web server process (their start command) in their container.</summary>
    Dynamic,
}

/// <summary>Whether the edge serves a site.</summary>
public enum SiteStatus
{
    /// <summary>Served.</summary>
    Active,

    /// <summary>The edge answers with the suspension page.</summary>
    Suspended,
}

/// <summary>One website of a tenant: its names, and the port its web server listens on inside the tenant's container.</summary>
public sealed class Site
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The tenant's space.</summary>
    public int SpaceId { get; set; }

    /// <summary>The space.</summary>
    public HostingSpace Space { get; set; } = default!;

    /// <summary>The primary domain (lower case, IDNA ASCII form).</summary>
    public string Domain { get; set; } = "";

    /// <summary>How it is served.</summary>
    public SiteKind Kind { get; set; }

    /// <summary>Active or suspended.</summary>
    public SiteStatus Status { get; private set; }

    /// <summary>Why it is suspended.</summary>
    public string? StatusReason { get; private set; }

    /// <summary>The port of its web server inside the container (unique in the space).</summary>
    public int Port { get; set; }

    /// <summary>A dynamic site's start command (run by <c>sh -c</c> as the <c>web</c> user in the site folder, PORT set); null for static sites.</summary>
    public string? Command { get; set; }

    /// <summary>Bytes of content last uploaded.</summary>
    public long ContentBytes { get; set; }

    /// <summary>When it was added (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Every name it answers to: the domain and its aliases.</summary>
    public List<SiteDomain> Names { get; set; } = [];

    /// <summary>Stops serving it (the edge shows the suspension page).</summary>
    public void Suspend(string reason)
    {
        if (Status == SiteStatus.Suspended)
        {
            throw new InvalidOperationException($"{Domain} is already suspended.");
        }

        Status = SiteStatus.Suspended;
        StatusReason = reason;
    }

    /// <summary>Serves it again.</summary>
    public void Unsuspend()
    {
        if (Status != SiteStatus.Suspended)
        {
            throw new InvalidOperationException($"{Domain} is not suspended.");
        }

        Status = SiteStatus.Active;
        StatusReason = null;
    }
}

/// <summary>A name a site answers to. Names are unique across all tenants: a domain belongs to one tenant only.</summary>
public sealed class SiteDomain
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The site.</summary>
    public int SiteId { get; set; }

    /// <summary>The name (lower case, IDNA ASCII form).</summary>
    public string Name { get; set; } = "";

    /// <summary>Whether it is the site's primary domain (otherwise an alias).</summary>
    public bool IsPrimary { get; set; }
}

/// <summary>A TLS certificate of the edge: the panel CA's own (no site) or a site's leaf, issued by that CA.</summary>
public sealed class EdgeCertificate
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The site, or null for the panel CA.</summary>
    public int? SiteId { get; set; }

    /// <summary>The names it covers (comma-separated), or the CA's subject.</summary>
    public string Names { get; set; } = "";

    /// <summary>The certificate (PEM).</summary>
    public string CertificatePem { get; set; } = "";

    /// <summary>Its private key (PKCS#8 PEM). Not encrypted at rest: protect database backups accordingly.</summary>
    public string KeyPem { get; set; } = "";

    /// <summary>Start of validity (UTC).</summary>
    public DateTime NotBefore { get; set; }

    /// <summary>End of validity (UTC); the renewal job reissues site certificates 30 days before.</summary>
    public DateTime NotAfter { get; set; }
}

/// <summary>Bytes a site moved through the edge in one UTC hour (the bandwidth graph and the month's total add these up).</summary>
public sealed class SiteTraffic
{
    /// <summary>The site.</summary>
    public int SiteId { get; set; }

    /// <summary>The start of the UTC hour.</summary>
    public DateTime HourStart { get; set; }

    /// <summary>Requests.</summary>
    public long Requests { get; set; }

    /// <summary>Request bytes (headers and body) received from clients.</summary>
    public long RequestBytes { get; set; }

    /// <summary>Response bytes (headers and body) sent to clients.</summary>
    public long ResponseBytes { get; set; }
}
