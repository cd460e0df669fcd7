using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Hosting;
using Panel.Core.Persistence;

namespace Panel.Core.Hosting;

/// <summary>
/// The panel's own certificate authority for the edge: one ECDSA P-256 CA made on first use and stored
/// in PostgreSQL (<c>edge_certificates</c>, the row without a site), and a leaf per site (SAN = its domain
/// and aliases, 90 days) issued by it. Browsers trust it only where the installation's CA is installed; sites that
/// chose ACME get theirs from <see cref="Acme.AcmeIssuer"/> and fall back to this CA when an order fails.
/// </summary>
public sealed class EdgeCa(IDbContextFactory<PanelDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>How long a site certificate is valid.</summary>
    public static readonly TimeSpan LeafLifetime = TimeSpan.FromDays(90);

    /// <summary>Site certificates expiring within this are reissued by the renewal job.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromDays(30);

    /// <summary>The CA certificate (PEM), made on first use.</summary>
    public async Task<string> CaCertificatePemAsync(CancellationToken cancellationToken = default)
        => (await EnsureCaAsync(cancellationToken)).CertificatePem;

    /// <summary>Issues (or reissues) the certificate of a site for its current names.</summary>
    public async Task IssueAsync(int siteId, CancellationToken cancellationToken = default)
    {
        var ca = await EnsureCaAsync(cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var names = await db.SiteDomains.Where(d => d.SiteId == siteId).OrderByDescending(d => d.IsPrimary).ThenBy(d => d.Name)
            .Select(d => d.Name).ToListAsync(cancellationToken);
        if (names.Count == 0)
        {
            return; // the site is gone
        }

        using var caCert = X509Certificate2.CreateFromPem(ca.CertificatePem, ca.KeyPem);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + names[0]), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var n in names)
        {
            san.AddDnsName(n);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(caCert, true, false));
        var now = clock.GetUtcNow();
        var notAfter = now.Add(LeafLifetime) < caCert.NotAfter ? now.Add(LeafLifetime) : new DateTimeOffset(caCert.NotAfter.ToUniversalTime());
        using var leaf = request.Create(caCert, now.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16));

        var row = await db.EdgeCertificates.FirstOrDefaultAsync(c => c.SiteId == siteId, cancellationToken);
        if (row is null)
        {
            row = new EdgeCertificate { SiteId = siteId };
            db.EdgeCertificates.Add(row);
        }

        row.Names = string.Join(',', names);
        row.CertificatePem = leaf.ExportCertificatePem();
        row.Source = CertificateSource.PanelCa;
        row.Issuer = caCert.Subject;
        row.KeyPem = key.ExportPkcs8PrivateKeyPem();
        row.NotBefore = leaf.NotBefore.ToUniversalTime();
        row.NotAfter = leaf.NotAfter.ToUniversalTime();
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>
    /// The sites whose certificate is missing or expires within <see cref="RenewBefore"/>, with where their certificate
    /// should come from; ACME sites also while they hold no ACME certificate (the last order failed: try again).
    /// </summary>
    public async Task<IReadOnlyList<(int SiteId, CertificateSource Source)>> DueForRenewalAsync(CancellationToken cancellationToken = default)
    {
        var limit = clock.GetUtcNow().UtcDateTime.Add(RenewBefore);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var due = await db.Sites
            .Where(s => !db.EdgeCertificates.Any(c => c.SiteId == s.Id && c.NotAfter > limit && (s.CertificateSource == CertificateSource.PanelCa || c.Source == CertificateSource.Acme)))
            .OrderBy(s => s.Id).Select(s => new { s.Id, s.CertificateSource }).ToListAsync(cancellationToken);
        return [.. due.Select(d => (d.Id, d.CertificateSource))];
    }

    private async Task<EdgeCertificate> EnsureCaAsync(CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var ca = await db.EdgeCertificates.AsNoTracking().FirstOrDefaultAsync(c => c.SiteId == null, cancellationToken);
        if (ca is not null)
        {
            return ca;
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        const string subject = "CN=VpsPanel Edge CA, O=VpsPanel";
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = clock.GetUtcNow();
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
        ca = new EdgeCertificate
        {
            SiteId = null,
            Names = subject,
            CertificatePem = cert.ExportCertificatePem(),
            KeyPem = key.ExportPkcs8PrivateKeyPem(),
            NotBefore = cert.NotBefore.ToUniversalTime(),
            NotAfter = cert.NotAfter.ToUniversalTime(),
        };

        // Two first uses at once: the unique index keeps one CA; the loser reads the winner's.
        var inserted = await db.Database.ExecuteSqlAsync(
            $"INSERT INTO edge_certificates (site_id, names, certificate_pem, key_pem, not_before, not_after) VALUES (NULL, {ca.Names}, {ca.CertificatePem}, {ca.KeyPem}, {ca.NotBefore}, {ca.NotAfter}) ON CONFLICT DO NOTHING",
            cancellationToken);
        return inserted == 1 ? ca : await db.EdgeCertificates.AsNoTracking().FirstAsync(c => c.SiteId == null, cancellationToken);
    }
}
