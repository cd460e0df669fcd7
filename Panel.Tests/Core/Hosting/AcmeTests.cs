using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.EntityFrameworkCore;
using Panel.Core;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Hosting;
using Panel.Core.Domain.Operations;
using Panel.Core.Hosting.Acme;
using Panel.Core.Jobs.Hosting;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Hosting;

/// <summary>
/// Certificates from ACME end to end, on loopback: Debian's pebble (Let's Encrypt's test server) as the CA, the real
/// edge answering its HTTP-01 checks, the real Hangfire job ordering, and curl and an SslStream (SNI) seeing the leaf
/// pebble issued. Orders that fail (a name pebble cannot reach, pebble itself unreachable) leave the site on a
/// certificate that works, with a readable reason.
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class AcmeTests(NodeHostFixture node)
{
    private const long MiB = 1L << 20;

    [Fact]
    public async Task A_site_switched_to_ACME_gets_pebbles_certificate_through_the_edge_renews_through_ACME_and_a_failed_order_keeps_a_working_certificate()
    {
        node.Require();
        if (PebbleServer.Unavailable is { } why)
        {
            Assert.Skip(why);
        }

        var ct = TestContext.Current.CancellationToken;
        var tenant = await node.NewCustomerAsync();
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;
        var vpses = scope.ServiceProvider.GetRequiredService<VpsService>();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var planId = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web ACME " + suffix, 3, 256 * MiB, null, 1, 128 * MiB, 3m), ct);
        var domain = $"shop-{suffix}.test";
        var site = await hosting.AddSiteAsync(tenant, new AddSiteRequest(domain, ["www." + domain], planId), ct);
        int boxId;
        await using (var db = node.Database.CreateContext())
        {
            boxId = await db.HostingSpaces.Where(s => s.OwnerId == tenant.UserId).Select(s => s.VpsId!.Value).SingleAsync(ct);
            var provision = await db.Operations.Where(o => o.VpsId == boxId && o.Kind == OperationKind.Provision).Select(o => o.Id).SingleAsync(ct);
            (await node.WaitAsync(provision)).Status.ShouldBe(OperationStatus.Succeeded);
        }

        // Without a directory URL ACME is off: the choice is refused and the site stays on the panel CA.
        var saved = node.Options.Acme;
        node.Options.Acme = new AcmeOptions();
        hosting.AcmeConfigured.ShouldBeFalse();
        (await Should.ThrowAsync<PanelRefusedException>(() => hosting.SetCertificateSourceAsync(tenant, site.Id, CertificateSource.Acme, ct))).Message.ShouldContain("no Let's Encrypt");
        site.CertificateIssuedBy.ShouldBe(CertificateSource.PanelCa);
        site.CertificateIssuer.ShouldBe("CN=VpsPanel Edge CA, O=VpsPanel");

        var http = HostingTests.FreePort();
        var https = HostingTests.FreePort();
        await using var edge = HostingTests.NewEdge(node, new PanelOptions { Edge = { HttpUrl = $"http://127.0.0.1:{http}", HttpsUrl = $"https://127.0.0.1:{https}", ReloadSeconds = 3600 } });
        await edge.StartAsync(ct);
        var files = Directory.CreateTempSubdirectory("panel-acme-test-").FullName;
        var pebble = await PebbleServer.StartAsync(http);
        SiteView? down = null;
        try
        {
            node.Options.Acme = pebble.Options;
            hosting.AcmeConfigured.ShouldBeTrue();
            var pebbleRoot = Path.Combine(files, "pebble-root.pem");
            await File.WriteAllTextAsync(pebbleRoot, await pebble.RootPemAsync(), ct);
            var panelCa = Path.Combine(files, "panel-ca.pem");
            await File.WriteAllTextAsync(panelCa, await hosting.CaCertificatePemAsync(ct), ct);

            // Another tenant's site is "not found"; a suspended site still proves its names (the edge answers before the gate).
            var other = await node.NewCustomerAsync();
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.SetCertificateSourceAsync(other, site.Id, CertificateSource.Acme, ct));
            await hosting.SuspendAsync(Actor.System, site.Id, "test: certificates renew while suspended", ct);
            (await hosting.SetCertificateSourceAsync(tenant, site.Id, CertificateSource.Acme, ct)).CertificateSource.ShouldBe(CertificateSource.Acme);
            var issued = await WaitForAsync(hosting, tenant, site.Id, v => v.CertificateIssuedBy == CertificateSource.Acme || v.CertificateProblem is not null, pebble);
            issued.CertificateProblem.ShouldBeNull(pebble.Output);
            issued.CertificateIssuedBy.ShouldBe(CertificateSource.Acme);
            issued.CertificateIssuer!.ShouldContain("Pebble Intermediate CA");
            issued.CertificateExpiresAt!.Value.ShouldBeGreaterThan(DateTime.UtcNow.AddDays(30));

            // curl trusts only pebble's root: the edge sends the leaf and pebble's intermediate, for both names (SNI).
            await edge.ReloadAsync(ct);
            foreach (var name in new[] { domain, "www." + domain })
            {
                var (status, body) = await HostingTests.CurlAsync(name, https, "/", pebbleRoot);
                status.ShouldBe(503);
                body.ShouldContain("Website suspended");
                using var leaf = await LeafAsync(name, https);
                leaf.Issuer.ShouldContain("Pebble Intermediate CA");
                leaf.MatchesHostname(name).ShouldBeTrue();
            }

            // The edge answers a token only on plain HTTP and only for the name it was issued for.
            var store = node.Services.GetRequiredService<AcmeChallengeStore>();
            var token = "tok_" + suffix;
            var path = AcmeChallengeStore.PathPrefix + "/" + token;
            await store.PutAsync(site.Id, domain, token, token + ".thumbprint", ct);
            (await HostingTests.CurlAsync(domain, http, path)).ShouldBe((200, token + ".thumbprint"));
            (await HostingTests.CurlAsync("www." + domain, http, path)).Status.ShouldBe(503); // another name: the site's own answer (suspended)
            (await HostingTests.CurlAsync(domain, https, path, pebbleRoot)).Status.ShouldBe(503);
            await store.RemoveAsync(site.Id, ct);
            (await HostingTests.CurlAsync(domain, http, path)).Status.ShouldBe(503);

            await hosting.UnsuspendAsync(Actor.System, site.Id, ct);
            await using (var db = node.Database.CreateContext())
            {
                (await db.AcmeChallenges.CountAsync(c => c.SiteId == site.Id, ct)).ShouldBe(0); // the order's answers are gone
                var account = await db.AcmeAccounts.SingleAsync(a => a.DirectoryUrl == pebble.DirectoryUrl, ct);
                account.AccountUrl.ShouldNotBeNull();
                account.Contact.ShouldBe("acme-test@example.test");
            }

            // The job again: nothing to order (a current ACME certificate for every name).
            var (jobScope, job) = node.Resolve<AcmeCertificateJob>();
            await using (jobScope)
            {
                (await job.RunAsync(site.Id, ct)).ShouldBe("UpToDate");
            }

            // Within 30 days of its end the renewal job orders through ACME again (not from the panel CA). Meanwhile the
            // server has forgotten the account (as a restarted test server does): the same key registers again.
            string before;
            await using (var db = node.Database.CreateContext())
            {
                before = await db.EdgeCertificates.Where(c => c.SiteId == site.Id).Select(c => c.CertificatePem).SingleAsync(ct);
                await db.EdgeCertificates.Where(c => c.SiteId == site.Id).ExecuteUpdateAsync(s => s.SetProperty(c => c.NotAfter, DateTime.UtcNow.AddDays(10)), ct);
                await db.AcmeAccounts.Where(a => a.DirectoryUrl == pebble.DirectoryUrl)
                    .ExecuteUpdateAsync(s => s.SetProperty(a => a.AccountUrl, pebble.DirectoryUrl.Replace("/dir", "/my-account/999999", StringComparison.Ordinal)), ct);
            }

            var (renewScope, renewal) = node.Resolve<CertificateRenewalJob>();
            await using (renewScope)
            {
                (await renewal.RunAsync(ct)).ShouldBeGreaterThanOrEqualTo(1);
            }

            var renewed = await WaitForAsync(hosting, tenant, site.Id, v => v.CertificateExpiresAt > DateTime.UtcNow.AddDays(30) || v.CertificateProblem is not null, pebble);
            renewed.CertificateProblem.ShouldBeNull(pebble.Output);
            renewed.CertificateIssuedBy.ShouldBe(CertificateSource.Acme);
            await using (var db = node.Database.CreateContext())
            {
                (await db.EdgeCertificates.Where(c => c.SiteId == site.Id).Select(c => c.CertificatePem).SingleAsync(ct)).ShouldNotBe(before);
            }

            // Two runs at once for a site that is due: one order (the other finds it busy, or done).
            await using (var db = node.Database.CreateContext())
            {
                await db.EdgeCertificates.Where(c => c.SiteId == site.Id).ExecuteUpdateAsync(s => s.SetProperty(c => c.NotAfter, DateTime.UtcNow.AddDays(10)), ct);
            }

            var changed = pebble.Options;
            changed.Email = "acme-other@example.test"; // and a new contact goes to the account
            node.Options.Acme = changed;
            var (scopeA, jobA) = node.Resolve<AcmeCertificateJob>();
            var (scopeB, jobB) = node.Resolve<AcmeCertificateJob>();
            await using (scopeA)
            await using (scopeB)
            {
                var results = await Task.WhenAll(jobA.RunAsync(site.Id, ct), jobB.RunAsync(site.Id, ct));
                results.Count(r => r == "Issued").ShouldBe(1, string.Join(", ", results));
                results.ShouldAllBe(r => r == "Issued" || r == "Busy" || r == "UpToDate");
            }

            await using (var db = node.Database.CreateContext())
            {
                (await db.AcmeAccounts.SingleAsync(a => a.DirectoryUrl == pebble.DirectoryUrl, ct)).Contact.ShouldBe("acme-other@example.test");
            }

            // A name pebble's HTTP-01 check cannot reach (its DNS points elsewhere): the site keeps the panel CA's
            // certificate and says why, in words.
            var unreachable = $"down-{suffix}.test";
            await pebble.SetAddressAsync(unreachable, "127.0.0.2");
            down = await hosting.AddSiteAsync(tenant, new AddSiteRequest(unreachable), ct);
            await hosting.SetCertificateSourceAsync(tenant, down.Id, CertificateSource.Acme, ct);
            var failed = await WaitForAsync(hosting, tenant, down.Id, v => v.CertificateProblem is not null || v.CertificateIssuedBy == CertificateSource.Acme, pebble);
            failed.CertificateIssuedBy.ShouldBe(CertificateSource.PanelCa);
            failed.CertificateProblem!.ShouldStartWith($"The ACME server could not verify {unreachable} over HTTP");
            failed.CertificateProblem.ShouldNotContain(" at Panel.");
            await edge.ReloadAsync(ct);
            (await HostingTests.CurlAsync(unreachable, https, "/", panelCa)).Status.ShouldBeOneOf(200, 404, 502);

            // The ACME server unreachable: a certificate still good for days is kept; one about to end is replaced by the
            // panel CA's. Either way the reason shows.
            node.Options.Acme = new AcmeOptions { DirectoryUrl = $"https://127.0.0.1:{HostingTests.FreePort()}/dir", TrustedCaFile = pebble.TlsCaFile, OrderTimeoutSeconds = 30 };
            await using (var db = node.Database.CreateContext())
            {
                await db.EdgeCertificates.Where(c => c.SiteId == site.Id).ExecuteUpdateAsync(s => s.SetProperty(c => c.NotAfter, DateTime.UtcNow.AddDays(10)), ct);
            }

            var (failScope, failJob) = node.Resolve<AcmeCertificateJob>();
            await using (failScope)
            {
                (await failJob.RunAsync(site.Id, ct)).ShouldStartWith("Failed: Cannot reach the ACME server at https://127.0.0.1:");
                var kept = await hosting.GetAsync(tenant, site.Id, ct);
                kept.CertificateIssuedBy.ShouldBe(CertificateSource.Acme);
                kept.CertificateProblem!.ShouldContain("Connection refused");

                await using (var db = node.Database.CreateContext())
                {
                    await db.EdgeCertificates.Where(c => c.SiteId == site.Id).ExecuteUpdateAsync(s => s.SetProperty(c => c.NotAfter, DateTime.UtcNow.AddHours(12)), ct);
                }

                (await failJob.RunAsync(site.Id, ct)).ShouldStartWith("Failed:");
                var fallback = await hosting.GetAsync(tenant, site.Id, ct);
                fallback.CertificateIssuedBy.ShouldBe(CertificateSource.PanelCa);
                fallback.CertificateExpiresAt!.Value.ShouldBeGreaterThan(DateTime.UtcNow.AddDays(80));
            }

            await edge.ReloadAsync(ct);
            (await HostingTests.CurlAsync(domain, https, "/", panelCa)).Status.ShouldBeOneOf(200, 404, 502);

            // Back to the panel CA by choice: the reason goes.
            var back = await hosting.SetCertificateSourceAsync(tenant, site.Id, CertificateSource.PanelCa, ct);
            back.CertificateSource.ShouldBe(CertificateSource.PanelCa);
            back.CertificateProblem.ShouldBeNull();
        }
        finally
        {
            node.Options.Acme = saved;
            await pebble.DisposeAsync();
            await edge.StopAsync(CancellationToken.None);
            Directory.Delete(files, recursive: true);
            foreach (var left in await hosting.ListAsync(tenant, CancellationToken.None))
            {
                await hosting.DeleteSiteAsync(tenant, left.Id, CancellationToken.None);
            }

            for (var i = 0; i < 300 && (await node.VpsAsync(boxId)).BusyOperationId is { } busy; i++)
            {
                await node.WaitAsync(busy, 90);
            }

            if ((await node.VpsAsync(boxId)).Status != VpsStatus.Deleted)
            {
                (await node.WaitAsync(await vpses.DeleteAsync(Actor.System, boxId, CancellationToken.None), 90)).Status.ShouldBe(OperationStatus.Succeeded);
            }
        }
    }

    /// <summary>Polls the site (as its owner sees it) until the condition holds, up to a minute.</summary>
    private static async Task<SiteView> WaitForAsync(HostingService hosting, Actor owner, int siteId, Func<SiteView, bool> done, PebbleServer pebble)
    {
        for (var i = 0; i < 240; i++)
        {
            var view = await hosting.GetAsync(owner, siteId);
            if (done(view))
            {
                return view;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"site #{siteId}'s certificate did not change within a minute; pebble said:\n{pebble.Output}");
    }

    /// <summary>The leaf the edge presents for a name (SNI), whoever issued it.</summary>
    private static async Task<X509Certificate2> LeafAsync(string name, int port)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        X509Certificate2? seen = null;
        await using var tls = new SslStream(tcp.GetStream(), false, (_, cert, _, _) =>
        {
            // Only looked at, not trusted: the test checks its issuer and names itself (curl checks the chain).
            seen = cert is null ? null : X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
            return seen is not null;
        });
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = name });
        return seen ?? throw new InvalidOperationException("no certificate");
    }
}
