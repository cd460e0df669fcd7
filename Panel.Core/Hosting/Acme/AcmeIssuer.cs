using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Panel.Core.Domain.Hosting;
using Panel.Core.Persistence;

namespace Panel.Core.Hosting.Acme;

/// <summary>What one run of <see cref="AcmeIssuer.RunAsync"/> did.</summary>
public enum AcmeResult
{
    /// <summary>A new certificate from the ACME server is in place.</summary>
    Issued,

    /// <summary>The site's ACME certificate covers its names and is not due: nothing to do.</summary>
    UpToDate,

    /// <summary>The order failed; the reason is on the site and it keeps (or got) a panel-CA certificate.</summary>
    Failed,

    /// <summary>Another run is ordering for this site right now.</summary>
    Busy,

    /// <summary>The site is gone or does not want ACME.</summary>
    Skipped,
}

/// <summary>
/// Gets a site's certificate from the ACME server (<c>Panel:Acme</c>): one order for all its names, HTTP-01 answered by
/// the edge from <see cref="AcmeChallengeStore"/>, a fresh P-256 key and CSR, the chain stored in <c>edge_certificates</c>.
/// Idempotent and re-entrant: a site whose ACME certificate is current is left alone, and a PostgreSQL advisory lock per
/// site keeps one order per site at a time across processes. When an order fails the reason goes on the site
/// (<see cref="Site.CertificateProblem"/>) and the site keeps its certificate while it is good for another day, else it
/// gets one from the panel CA.
/// </summary>
public sealed class AcmeIssuer(
    IDbContextFactory<PanelDbContext> dbFactory, EdgeCa ca, AcmeChallengeStore challenges, EdgeSignal signal, PanelOptions options, TimeProvider clock, ILogger<AcmeIssuer> logger)
{
    /// <summary>The advisory lock class of site orders ("ACME").</summary>
    private const int LockClass = 0x41434D45;

    /// <summary>A failed order leaves the site's current certificate in place while it is valid for at least this long.</summary>
    public static readonly TimeSpan KeepOnFailure = TimeSpan.FromDays(1);

    /// <summary>Orders a certificate for the site when it wants one from ACME and has no current one.</summary>
    public async Task<(AcmeResult Result, string? Problem)> RunAsync(int siteId, CancellationToken cancellationToken = default)
    {
        var acme = options.Acme;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var site = await db.Sites.AsNoTracking().Where(s => s.Id == siteId)
            .Select(s => new { s.CertificateSource, Names = s.Names.OrderByDescending(n => n.IsPrimary).ThenBy(n => n.Name).Select(n => n.Name).ToList() })
            .FirstOrDefaultAsync(cancellationToken);
        if (site is null || site.CertificateSource != CertificateSource.Acme || site.Names.Count == 0)
        {
            return (AcmeResult.Skipped, null);
        }

        if (!acme.Enabled)
        {
            return (AcmeResult.Failed, await FailAsync(siteId, site.Names, "Let's Encrypt (ACME) is not configured on this installation.", cancellationToken));
        }

        if (await UpToDateAsync(db, siteId, site.Names, cancellationToken))
        {
            return (AcmeResult.UpToDate, null);
        }

        // One order per site at a time, across processes: a session advisory lock on this context's connection.
        await db.Database.OpenConnectionAsync(cancellationToken);
        if (!await db.Database.SqlQuery<bool>($"SELECT pg_try_advisory_lock({LockClass}, {siteId}) AS \"Value\"").SingleAsync(cancellationToken))
        {
            await db.Database.CloseConnectionAsync();
            return (AcmeResult.Busy, null);
        }

        try
        {
            if (await UpToDateAsync(db, siteId, site.Names, cancellationToken))
            {
                return (AcmeResult.UpToDate, null); // another run finished the order between the first look and the lock
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(Math.Max(10, acme.OrderTimeoutSeconds)));
            string chain, keyPem;
            try
            {
                (chain, keyPem) = await OrderAsync(acme, siteId, site.Names, timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new AcmeException($"the order took longer than {Math.Max(10, acme.OrderTimeoutSeconds)} seconds");
            }

            if (!await StoreAsync(siteId, site.Names, chain, keyPem, cancellationToken))
            {
                return (AcmeResult.Skipped, null); // deleted, or switched back to the panel CA, while the order ran
            }

            logger.LogInformation("acme: site {Site} has a certificate from {Directory} for {Names}", siteId, acme.DirectoryUrl, string.Join(", ", site.Names));
            signal.Notify();
            return (AcmeResult.Issued, null);
        }
        catch (AcmeException ex)
        {
            logger.LogWarning("acme: the order for site {Site} failed: {Reason}", siteId, ex.Message);
            return (AcmeResult.Failed, await FailAsync(siteId, site.Names, Sentence(ex.Message), CancellationToken.None));
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            // A body cut off half-way (the status line had come): the connection, not the protocol.
            logger.LogWarning("acme: the order for site {Site} failed: {Reason}", siteId, ex.Message);
            return (AcmeResult.Failed, await FailAsync(siteId, site.Names, Sentence("the connection to the ACME server broke: " + ex.Message), CancellationToken.None));
        }
        finally
        {
            await challenges.RemoveAsync(siteId, CancellationToken.None);
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_unlock({LockClass}, {siteId})", CancellationToken.None);
            await db.Database.CloseConnectionAsync();
        }
    }

    private async Task<(string Chain, string KeyPem)> OrderAsync(AcmeOptions acme, int siteId, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        using var http = CreateHttpClient(acme);
        var directoryUrl = DirectoryUri(acme.DirectoryUrl!);
        var contact = string.IsNullOrWhiteSpace(acme.Email) ? null : acme.Email.Trim();
        var (account, accountKey) = await AccountAsync(directoryUrl, cancellationToken);
        using var _ = accountKey;
        var client = new AcmeClient(http, directoryUrl, accountKey) { AccountUrl = account.AccountUrl };
        if (client.AccountUrl is null)
        {
            await RegisterAsync(client, account.Id, contact, cancellationToken);
        }
        else if (account.Contact != contact)
        {
            await client.UpdateContactAsync(contact, cancellationToken);
            await SaveAccountAsync(account.Id, client.AccountUrl, contact, cancellationToken);
        }

        await challenges.RemoveAsync(siteId, cancellationToken);
        AcmeOrder order;
        try
        {
            order = await client.NewOrderAsync(names, cancellationToken);
        }
        catch (AcmeException ex) when (ex.Problem?.ShortType == "accountDoesNotExist")
        {
            // The server forgot the account (a test server restarted, a reset staging environment): the same key registers again.
            client.AccountUrl = null;
            await RegisterAsync(client, account.Id, contact, cancellationToken);
            order = await client.NewOrderAsync(names, cancellationToken);
        }

        var answered = new List<(Uri Authorization, string Name)>();
        foreach (var authorizationUrl in order.Authorizations)
        {
            var (authorization, _) = await client.GetAuthorizationAsync(authorizationUrl, cancellationToken);
            var name = authorization.Identifier.Value;
            if (authorization.Status == "valid")
            {
                continue; // proved recently: the server reuses it
            }

            if (authorization.Status != "pending")
            {
                throw new AcmeException($"the authorization of {name} is {authorization.Status}");
            }

            var challenge = authorization.Challenges.FirstOrDefault(c => c.Type == "http-01")
                ?? throw new AcmeException($"the ACME server offers no HTTP-01 challenge for {name}");
            await challenges.PutAsync(siteId, name, challenge.Token ?? "", client.KeyAuthorization(challenge.Token ?? ""), cancellationToken);
            await client.AnswerChallengeAsync(challenge.Url, cancellationToken);
            answered.Add((authorizationUrl, name));
        }

        foreach (var (authorizationUrl, name) in answered)
        {
            var authorization = await PollAsync(() => client.GetAuthorizationAsync(authorizationUrl, cancellationToken), a => a.Status is not ("pending" or "processing"), cancellationToken);
            if (authorization.Status != "valid")
            {
                var error = authorization.Challenges.FirstOrDefault(c => c.Type == "http-01")?.Error;
                throw new AcmeException($"the ACME server could not verify {name} over HTTP (http://{name}/.well-known/acme-challenge/…): {error?.ToString() ?? "authorization " + authorization.Status}", error);
            }
        }

        order = await PollAsync(() => client.GetOrderAsync(order.Url!, cancellationToken), o => o.Status is not "pending", cancellationToken);
        if (order.Status != "ready")
        {
            throw new AcmeException($"the order is {order.Status}{(order.Error is null ? "" : ": " + order.Error)}", order.Error);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (finalized, retryAfter) = await client.FinalizeAsync(order, AcmeCsr.Create(key, names), cancellationToken);
        if (finalized.Status == "processing")
        {
            await Task.Delay(Clamp(retryAfter), clock, cancellationToken);
            finalized = await PollAsync(() => client.GetOrderAsync(order.Url!, cancellationToken), o => o.Status is not "processing", cancellationToken);
        }

        if (finalized.Status != "valid" || finalized.Certificate is null)
        {
            throw new AcmeException($"the order is {finalized.Status} after finalizing{(finalized.Error is null ? "" : ": " + finalized.Error)}", finalized.Error);
        }

        var chain = await client.DownloadCertificateAsync(finalized.Certificate, cancellationToken);
        var keyPem = key.ExportPkcs8PrivateKeyPem();
        using var leaf = Leaf(chain, keyPem);
        foreach (var name in names)
        {
            if (!leaf.MatchesHostname(name, allowWildcards: false))
            {
                throw new AcmeException($"the certificate the ACME server issued does not cover {name}");
            }
        }

        return (chain, keyPem);
    }

    private async Task<T> PollAsync<T>(Func<Task<(T Value, TimeSpan? RetryAfter)>> read, Func<T, bool> done, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (value, retryAfter) = await read();
            if (done(value))
            {
                return value;
            }

            await Task.Delay(Clamp(retryAfter), clock, cancellationToken);
        }
    }

    /// <summary>The server's Retry-After, within half a second and ten seconds (one second when it sent none).</summary>
    private static TimeSpan Clamp(TimeSpan? retryAfter)
        => retryAfter is not { } r ? TimeSpan.FromSeconds(1) : r < TimeSpan.FromMilliseconds(500) ? TimeSpan.FromMilliseconds(500) : r > TimeSpan.FromSeconds(10) ? TimeSpan.FromSeconds(10) : r;

    /// <summary>The installation's account at this server: made on first use (two at once: the unique index keeps one).</summary>
    private async Task<(AcmeAccount Account, ECDsa Key)> AccountAsync(Uri directoryUrl, CancellationToken cancellationToken)
    {
        var url = directoryUrl.AbsoluteUri;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var account = await db.AcmeAccounts.AsNoTracking().FirstOrDefaultAsync(a => a.DirectoryUrl == url, cancellationToken);
        if (account is null)
        {
            using var fresh = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var pem = fresh.ExportPkcs8PrivateKeyPem();
            var now = clock.GetUtcNow().UtcDateTime;
            await db.Database.ExecuteSqlAsync(
                $"INSERT INTO acme_accounts (directory_url, key_pem, created_at) VALUES ({url}, {pem}, {now}) ON CONFLICT (directory_url) DO NOTHING", cancellationToken);
            account = await db.AcmeAccounts.AsNoTracking().FirstAsync(a => a.DirectoryUrl == url, cancellationToken);
        }

        var key = ECDsa.Create();
        key.ImportFromPem(account.KeyPem);
        return (account, key);
    }

    private async Task RegisterAsync(AcmeClient client, int accountId, string? contact, CancellationToken cancellationToken)
        => await SaveAccountAsync(accountId, await client.RegisterAsync(contact, cancellationToken), contact, cancellationToken);

    private async Task SaveAccountAsync(int accountId, string url, string? contact, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        await db.AcmeAccounts.Where(a => a.Id == accountId)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.AccountUrl, url).SetProperty(a => a.Contact, contact), cancellationToken);
    }

    /// <summary>Puts the certificate in place, unless the site is gone or no longer wants ACME; returns whether it did.</summary>
    private async Task<bool> StoreAsync(int siteId, IReadOnlyList<string> names, string chain, string keyPem, CancellationToken cancellationToken)
    {
        using var leaf = Leaf(chain, keyPem);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (!await db.Sites.AnyAsync(s => s.Id == siteId && s.CertificateSource == CertificateSource.Acme, cancellationToken))
        {
            return false;
        }

        var row = await db.EdgeCertificates.FirstOrDefaultAsync(c => c.SiteId == siteId, cancellationToken);
        if (row is null)
        {
            row = new EdgeCertificate { SiteId = siteId };
            db.EdgeCertificates.Add(row);
        }

        row.Names = string.Join(',', names);
        row.CertificatePem = chain;
        row.KeyPem = keyPem;
        row.Source = CertificateSource.Acme;
        row.Issuer = leaf.Issuer;
        row.NotBefore = leaf.NotBefore.ToUniversalTime();
        row.NotAfter = leaf.NotAfter.ToUniversalTime();
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            return false; // the site went between the check and the write (its certificate row cascades with it)
        }

        await db.Sites.Where(s => s.Id == siteId)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.CertificateProblem, (string?)null).SetProperty(x => x.CertificateProblemAt, (DateTime?)null), cancellationToken);
        return true;
    }

    /// <summary>Records why ACME failed and makes sure the site has a certificate good for its names; returns the reason.</summary>
    private async Task<string> FailAsync(int siteId, IReadOnlyList<string> names, string reason, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        var text = reason.Length > 1000 ? reason[..1000] : reason;
        await db.Sites.Where(s => s.Id == siteId)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.CertificateProblem, text).SetProperty(x => x.CertificateProblemAt, now), cancellationToken);
        if (await CurrentAsync(db, siteId, names, cancellationToken) is not { } current || current.NotAfter <= now.Add(KeepOnFailure))
        {
            await ca.IssueAsync(siteId, cancellationToken);
        }

        signal.Notify();
        return text;
    }

    /// <summary>Whether the site has an ACME certificate for all its names that is not due for renewal.</summary>
    private async Task<bool> UpToDateAsync(PanelDbContext db, int siteId, IReadOnlyList<string> names, CancellationToken cancellationToken)
        => await CurrentAsync(db, siteId, names, cancellationToken) is { Source: CertificateSource.Acme } current
            && current.NotAfter > clock.GetUtcNow().UtcDateTime.Add(EdgeCa.RenewBefore);

    /// <summary>The site's certificate when it covers all the names, else null.</summary>
    private static async Task<EdgeCertificate?> CurrentAsync(PanelDbContext db, int siteId, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        var row = await db.EdgeCertificates.AsNoTracking().FirstOrDefaultAsync(c => c.SiteId == siteId, cancellationToken);
        return row is not null && names.All(row.Names.Split(',').Contains) ? row : null;
    }

    private static X509Certificate2 Leaf(string chain, string keyPem)
    {
        try
        {
            return X509Certificate2.CreateFromPem(chain, keyPem);
        }
        catch (CryptographicException ex)
        {
            throw new AcmeException("the certificate the ACME server issued cannot be used with its key: " + ex.Message, ex);
        }
    }

    private static Uri DirectoryUri(string url)
        => Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps
            ? uri
            : throw new AcmeException($"Panel:Acme:DirectoryUrl '{url}' is not an https URL");

    /// <summary>
    /// The HTTP client for the ACME server: the system's trust store, plus the CAs of <c>TrustedCaFile</c> for this
    /// client only (a chain that fails only because its root is unknown is built again against them; a name mismatch
    /// never passes).
    /// </summary>
    internal static HttpClient CreateHttpClient(AcmeOptions acme)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15), PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (!string.IsNullOrWhiteSpace(acme.TrustedCaFile))
        {
            var extra = new X509Certificate2Collection();
            try
            {
                extra.ImportFromPemFile(acme.TrustedCaFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
            {
                handler.Dispose();
                throw new AcmeException($"Panel:Acme:TrustedCaFile {acme.TrustedCaFile} cannot be read: {ex.Message}", ex);
            }

            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                if (errors == SslPolicyErrors.None)
                {
                    return true;
                }

                if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null)
                {
                    return false;
                }

                using var custom = new X509Chain();
                custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                custom.ChainPolicy.CustomTrustStore.AddRange(extra);
                custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                if (chain is not null)
                {
                    foreach (var element in chain.ChainElements)
                    {
                        custom.ChainPolicy.ExtraStore.Add(element.Certificate);
                    }
                }

                if (certificate is X509Certificate2 presented)
                {
                    return custom.Build(presented);
                }

                using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                return custom.Build(leaf);
            };
        }

        var http = new HttpClient(handler, disposeHandler: true) { Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("VpsPanel-ACME/1.0");
        return http;
    }

    /// <summary>A reason as a sentence: capitalized, ending in a full stop.</summary>
    private static string Sentence(string reason)
    {
        var text = reason.Trim();
        text = text.Length == 0 ? "The ACME order failed" : char.ToUpperInvariant(text[0]) + text[1..];
        return text.EndsWith('.') ? text : text + ".";
    }
}
