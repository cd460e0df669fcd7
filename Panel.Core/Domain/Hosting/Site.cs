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

/// <summary>Where a site's certificate comes from.</summary>
public enum CertificateSource
{
    /// <summary>The panel's own CA (the default; browsers trust it only where the installation's CA is installed).</summary>
    PanelCa,

    /// <summary>An ACME server (Let's Encrypt or compatible, HTTP-01 through the edge), with the panel CA as the fallback.</summary>
    Acme,
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

    /// <summary>Bytes its folder holds, as last counted (an upload, the file manager, or <c>HostingContentJob</c>'s measure).</summary>
    public long ContentBytes { get; set; }

    /// <summary>When it was added (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Whether the edge answers its plain-HTTP requests with a redirect to HTTPS (ACME's challenges excepted).</summary>
    public bool ForceHttps { get; set; }

    /// <summary>Where its certificate should come from (the customer's choice).</summary>
    public CertificateSource CertificateSource { get; set; }

    /// <summary>Why the last ACME order failed (readable, shown in the portal), or null; the site keeps a panel-CA certificate meanwhile.</summary>
    public string? CertificateProblem { get; set; }

    /// <summary>When <see cref="CertificateProblem"/> was recorded (UTC).</summary>
    public DateTime? CertificateProblemAt { get; set; }

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

/// <summary>A TLS certificate of the edge: the panel CA's own (no site) or a site's leaf, issued by that CA or by an ACME server.</summary>
public sealed class EdgeCertificate
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The site, or null for the panel CA.</summary>
    public int? SiteId { get; set; }

    /// <summary>The names it covers (comma-separated), or the CA's subject.</summary>
    public string Names { get; set; } = "";

    /// <summary>The certificate (PEM); an ACME certificate is followed by its chain (intermediates), which the edge sends too.</summary>
    public string CertificatePem { get; set; } = "";

    /// <summary>Who issued it.</summary>
    public CertificateSource Source { get; set; }

    /// <summary>The issuer's distinguished name (e.g. the panel CA's, or the ACME CA's intermediate).</summary>
    public string Issuer { get; set; } = "";

    /// <summary>Its private key (PKCS#8 PEM). Not encrypted at rest: protect database backups accordingly.</summary>
    public string KeyPem { get; set; } = "";

    /// <summary>Start of validity (UTC).</summary>
    public DateTime NotBefore { get; set; }

    /// <summary>End of validity (UTC); the renewal job reissues site certificates 30 days before.</summary>
    public DateTime NotAfter { get; set; }
}

/// <summary>The installation's account at an ACME server (one per directory URL). Its key signs every request.</summary>
public sealed class AcmeAccount
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The ACME server's directory URL.</summary>
    public string DirectoryUrl { get; set; } = "";

    /// <summary>The account key (ECDSA P-256, PKCS#8 PEM). Not encrypted at rest, like the panel CA's key: protect database backups.</summary>
    public string KeyPem { get; set; } = "";

    /// <summary>The account's URL at the server (the JWS <c>kid</c>), once registered.</summary>
    public string? AccountUrl { get; set; }

    /// <summary>The contact email registered with it, if any.</summary>
    public string? Contact { get; set; }

    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>
/// A pending HTTP-01 challenge: the edge answers <c>GET /.well-known/acme-challenge/TOKEN</c> for <see cref="Name"/>
/// with <see cref="KeyAuthorization"/>. Rows live while an order runs (any panel process's edge can answer).
/// </summary>
public sealed class AcmeChallenge
{
    /// <summary>The challenge token (base64url, the primary key).</summary>
    public string Token { get; set; } = "";

    /// <summary>The site being ordered for.</summary>
    public int SiteId { get; set; }

    /// <summary>The name (identifier) it proves.</summary>
    public string Name { get; set; } = "";

    /// <summary>The answer: token + "." + the account key's thumbprint.</summary>
    public string KeyAuthorization { get; set; } = "";

    /// <summary>When it was written (UTC).</summary>
    public DateTime CreatedAt { get; set; }
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
