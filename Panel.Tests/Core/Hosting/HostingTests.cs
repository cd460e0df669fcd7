using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Panel.Core;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Hosting;
using Panel.Core.Domain.Operations;
using Panel.Core.Hosting;
using Panel.Core.Jobs.Hosting;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Processes;
using Panel.Tests.Infrastructure;
using Panel.Web.Edge;

namespace Panel.Tests.Core.Hosting;

/// <summary>
/// Shared hosting end to end: two tenants' sites in their own real containers, behind a real edge (YARP on
/// Kestrel), reached with the real curl over HTTP and HTTPS (SNI, the panel CA's chain verified).
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class HostingTests(NodeHostFixture node)
{
    private const long MiB = 1L << 20;

    [Fact]
    public async Task Two_tenants_sites_are_served_through_the_edge_isolated_suspendable_and_refuse_bad_input()
    {
        node.Require();
        var alice = await node.NewCustomerAsync();
        var bob = await node.NewCustomerAsync();
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;

        // Plans: admins only.
        await Should.ThrowAsync<UnauthorizedAccessException>(() => hosting.CreatePlanAsync(alice, new HostingPlanRequest("Mine", 99, 512 * MiB, null, 1, 128 * MiB, 0m)));
        var planId = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web S", 1, 256 * MiB, 10L << 30, 1, 128 * MiB, 4.99m));
        (await hosting.ListPlansAsync(alice)).ShouldContain(p => p.Id == planId && p.MaxSites == 1 && p.MonthlyPrice == 4.99m);

        // The first site needs a plan; a bad domain is refused before anything exists.
        (await Should.ThrowAsync<PanelRefusedException>(() => hosting.AddSiteAsync(alice, new AddSiteRequest("alpha.test")))).Field.ShouldBe("PlanId");
        (await Should.ThrowAsync<PanelRefusedException>(() => hosting.AddSiteAsync(alice, new AddSiteRequest("bad_name!.test", PlanId: planId)))).Message.ShouldContain("not a valid domain name");
        await using (var db = node.Database.CreateContext())
        {
            (await db.HostingSpaces.CountAsync(s => s.OwnerId == alice.UserId)).ShouldBe(0);
        }

        var a = await hosting.AddSiteAsync(alice, new AddSiteRequest("Alpha.TEST", ["www.alpha.test"], planId));
        a.Domain.ShouldBe("alpha.test");
        a.Aliases.ShouldBe(["www.alpha.test"]);
        a.Status.ShouldBe(SiteStatus.Active);
        a.Port.ShouldBe(HostingService.FirstPort);

        // A domain (or alias) belongs to one tenant only; the plan's site count holds.
        (await Should.ThrowAsync<PanelRefusedException>(() => hosting.AddSiteAsync(bob, new AddSiteRequest("alpha.test", PlanId: planId)))).Message.ShouldContain("already in use");
        (await Should.ThrowAsync<PanelRefusedException>(() => hosting.AddSiteAsync(bob, new AddSiteRequest("bravo.test", ["WWW.Alpha.Test"], planId)))).Message.ShouldContain("already in use");
        var b = await hosting.AddSiteAsync(bob, new AddSiteRequest("bravo.test", PlanId: planId));
        (await Should.ThrowAsync<PanelRefusedException>(() => hosting.AddSiteAsync(bob, new AddSiteRequest("second.test")))).Message.ShouldContain("allows 1 site");
        (await Should.ThrowAsync<PanelRefusedException>(() => hosting.AddAliasAsync(bob, b.Id, "alpha.test"))).Message.ShouldContain("already in use");

        // Someone else's site is "not found", whatever the call.
        await Should.ThrowAsync<PanelNotFoundException>(() => hosting.GetAsync(alice, b.Id));
        await Should.ThrowAsync<PanelNotFoundException>(() => hosting.DeleteSiteAsync(alice, b.Id));
        await Should.ThrowAsync<PanelNotFoundException>(() => hosting.AddAliasAsync(alice, b.Id, "mine.test"));
        await Should.ThrowAsync<PanelNotFoundException>(() => hosting.SetForceHttpsAsync(alice, b.Id, true));
        using (var zip = SiteArchiveTests.Zip(("index.html", "alice was here", 0)))
        {
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.UploadAsync(alice, b.Id, zip));
        }

        await Should.ThrowAsync<UnauthorizedAccessException>(() => hosting.SuspendAsync(bob, b.Id, "no"));
        (await hosting.ListAsync(alice)).Select(s => s.Domain).ShouldBe(["alpha.test"]);
        // Admins see both tenants' sites (and those of any other test that runs beside this one).
        var everyone = (await hosting.ListAsync(Actor.System)).Select(s => s.Domain).ToList();
        everyone.ShouldContain("alpha.test");
        everyone.ShouldContain("bravo.test");

        // Each tenant got one container of their own, with the plan's limits, provisioned by the usual job.
        var containers = new Dictionary<Guid, Vps>();
        foreach (var tenant in new[] { alice, bob })
        {
            int vpsId;
            long opId;
            await using (var db = node.Database.CreateContext())
            {
                vpsId = await db.HostingSpaces.Where(s => s.OwnerId == tenant.UserId).Select(s => s.VpsId!.Value).SingleAsync();
                opId = await db.Operations.Where(o => o.VpsId == vpsId && o.Kind == OperationKind.Provision).Select(o => o.Id).SingleAsync();
            }

            (await node.WaitAsync(opId)).Status.ShouldBe(OperationStatus.Succeeded);
            var vps = await node.VpsAsync(vpsId);
            vps.OwnerId.ShouldBe(tenant.UserId!.Value);
            vps.MemoryBytes.ShouldBe(128 * MiB);
            vps.DiskBytes.ShouldBe(256 * MiB);
            containers[tenant.UserId!.Value] = vps;
        }

        var aliceBox = containers[alice.UserId!.Value];
        var bobBox = containers[bob.UserId!.Value];
        aliceBox.EngineId.ShouldNotBe(bobBox.EngineId);

        // Content, then the edge.
        using (var zip = SiteArchiveTests.Zip(("index.html", "<h1>alpha site</h1>", 0), ("docs/page.html", "alpha docs", 0)))
        {
            (await hosting.UploadAsync(alice, a.Id, zip)).ContentBytes.ShouldBe(19 + 10);
        }

        using (var zip = SiteArchiveTests.Zip(("index.html", "<h1>bravo secret</h1>", 0)))
        {
            await hosting.UploadAsync(bob, b.Id, zip);
        }

        var http = FreePort();
        var https = FreePort();
        var edgeOptions = new PanelOptions { Edge = { HttpUrl = $"http://127.0.0.1:{http}", HttpsUrl = $"https://127.0.0.1:{https}", ReloadSeconds = 3600, RequestsPerSecond = 1, Burst = 20 } };
        await using var edge = NewEdge(node, edgeOptions);
        await edge.StartAsync(CancellationToken.None);
        var caFile = Path.Combine(Path.GetTempPath(), $"panel-edge-ca-{Guid.NewGuid():N}.pem");
        try
        {
            await File.WriteAllTextAsync(caFile, await hosting.CaCertificatePemAsync());

            (await CurlAsync("alpha.test", http, "/")).ShouldBe((200, "<h1>alpha site</h1>"));
            (await CurlAsync("www.alpha.test", http, "/docs/page.html")).ShouldBe((200, "alpha docs"));
            (await CurlAsync("bravo.test", http, "/")).ShouldBe((200, "<h1>bravo secret</h1>"));
            (await CurlAsync("alpha.test", https, "/", caFile)).ShouldBe((200, "<h1>alpha site</h1>"));
            (await CurlAsync("www.alpha.test", https, "/", caFile)).ShouldBe((200, "<h1>alpha site</h1>"));
            (await CurlAsync("bravo.test", https, "/", caFile)).ShouldBe((200, "<h1>bravo secret</h1>"));
            var unknown = await CurlAsync("nobody.test", http, "/");
            unknown.Status.ShouldBe(404);
            unknown.Body.ShouldContain("No website here");

            // A zip-slip upload is refused whole: nothing is written, in the site or beside it.
            using (var zip = SiteArchiveTests.Zip(("index.html", "overwritten", 0), ("../../evil.html", "evil", 0)))
            {
                (await Should.ThrowAsync<PanelRefusedException>(() => hosting.UploadAsync(alice, a.Id, zip))).Message.ShouldContain("outside the site folder");
            }

            var evil = await node.Lxc.ExecAsync(new ExecOptions(aliceBox.EngineId, ["sh", "-c", "find / -xdev -name evil.html; grep -rl overwritten /srv || true"]));
            evil.StdOut.Trim().ShouldBeEmpty();
            (await CurlAsync("alpha.test", http, "/")).ShouldBe((200, "<h1>alpha site</h1>"));

            // Tenant A's container holds only A's files: B's are not there, by path or by content.
            var look = await node.Lxc.ExecAsync(new ExecOptions(aliceBox.EngineId, ["sh", "-c",
                $"ls {HostingRuntime.SitesRoot}; cat {HostingRuntime.SiteFolder(b.Id)}/index.html; grep -rl 'bravo secret' /srv /root /tmp /home 2>/dev/null; echo end"]));
            look.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).ShouldBe([a.Id.ToString(CultureInfo.InvariantCulture), "end"]);
            look.StdErr.ShouldContain("No such file");

            // Suspension: the suspension page, then the site again.
            await hosting.SuspendAsync(Actor.System, a.Id, "unpaid invoice");
            await edge.ReloadAsync();
            var suspended = await CurlAsync("alpha.test", https, "/", caFile);
            suspended.Status.ShouldBe(503);
            suspended.Body.ShouldContain("Website suspended");
            (await CurlAsync("bravo.test", http, "/")).Status.ShouldBe(200);
            (await hosting.GetAsync(alice, a.Id)).StatusReason.ShouldBe("unpaid invoice");
            await hosting.UnsuspendAsync(Actor.System, a.Id);
            await edge.ReloadAsync();
            (await CurlAsync("alpha.test", http, "/")).ShouldBe((200, "<h1>alpha site</h1>"));

            // Bytes are counted per site and hour.
            await edge.FlushAsync();
            long aliceBytes;
            await using (var db = node.Database.CreateContext())
            {
                var rows = await db.SiteTraffic.Where(t => t.SiteId == a.Id).ToListAsync();
                rows.ShouldAllBe(r => r.HourStart.Minute == 0 && r.HourStart.Second == 0 && r.HourStart.Kind == DateTimeKind.Utc);
                rows.Sum(r => r.Requests).ShouldBe(7); // the suspended one counts too; the unknown host's belongs to no site
                rows.Sum(r => r.ResponseBytes).ShouldBeGreaterThan(5 * 19);
                rows.Sum(r => r.RequestBytes).ShouldBeGreaterThan(7 * 20);
                aliceBytes = rows.Sum(r => r.RequestBytes + r.ResponseBytes);
                (await db.SiteTraffic.Where(t => t.SiteId == b.Id).SumAsync(t => t.Requests)).ShouldBe(3);
            }

            // What the portal shows: the month's bytes, the certificate's expiry, the hourly graph, the recent requests.
            var seen = await hosting.GetAsync(alice, a.Id);
            seen.BytesThisMonth.ShouldBe(aliceBytes);
            seen.CertificateExpiresAt!.Value.ShouldBeGreaterThan(DateTime.UtcNow.AddDays(80));
            seen.State.ShouldBe(SiteState.Live);
            seen.OwnerEmail.ShouldBe(alice.Name);
            var graph = await hosting.BandwidthAsync(alice, a.Id, 3);
            graph.Count.ShouldBe(3);
            graph.Zip(graph.Skip(1)).ShouldAllBe(p => p.Second.Hour == p.First.Hour.AddHours(1));
            graph.Sum(p => p.RequestBytes + p.ResponseBytes).ShouldBe(aliceBytes);
            var log = await hosting.AccessLogAsync(alice, a.Id);
            log.Count.ShouldBe(7);
            log[0].ShouldSatisfyAllConditions(r => r.Status.ShouldBe(200), r => r.Host.ShouldBe("alpha.test"), r => r.Client.ShouldBe("127.0.0.1"), r => r.Method.ShouldBe("GET"));
            log[0].UserAgent!.ShouldStartWith("curl/");
            log.ShouldContain(r => r.Status == 503);
            log.ShouldContain(r => r.Host == "www.alpha.test" && r.Path == "/docs/page.html" && r.ResponseBytes > 10);
            log.Zip(log.Skip(1)).ShouldAllBe(p => p.First.At >= p.Second.At);
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.AccessLogAsync(bob, a.Id));
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.BandwidthAsync(bob, a.Id));
            (await hosting.SpaceAsync(alice))!.ShouldSatisfyAllConditions(s => s.Sites.ShouldBe(1), s => s.ContainerStatus.ShouldBe(VpsStatus.Running), s => s.PlanName.ShouldBe("Web S"));
            (await hosting.SpaceAsync(await node.NewCustomerAsync())).ShouldBeNull();

            // Admins: every site, searchable by name or tenant; the edge's health.
            await Should.ThrowAsync<UnauthorizedAccessException>(() => hosting.SearchAsync(alice, new SiteQuery()));
            (await hosting.SearchAsync(Actor.System, new SiteQuery(bob.Name))).Rows.Select(r => r.Domain).ShouldBe(["bravo.test"]);
            (await hosting.SearchAsync(Actor.System, new SiteQuery("WWW.ALPHA"))).Rows.Select(r => r.OwnerEmail).ShouldBe([alice.Name]);
            (await hosting.SearchAsync(Actor.System, new SiteQuery(Take: 1))).Total.ShouldBe(2);
            Should.Throw<UnauthorizedAccessException>(() => hosting.EdgeHealth(alice));
            var health = hosting.EdgeHealth(Actor.System);
            health.Running.ShouldBeTrue();
            health.Listening.ShouldBe([$"http://127.0.0.1:{http}", $"https://127.0.0.1:{https}"]);
            health.Routes.ShouldBe(2);
            health.Active.ShouldBe(2);
            health.Certificates.Select(c => c.Names[0]).Order().ShouldBe(["alpha.test", "bravo.test"]);
            health.LastReloadAt!.Value.ShouldBeGreaterThan(DateTime.UtcNow.AddMinutes(-2));

            // The tenant's container is no server of theirs: not listed, not to be stopped or deleted (admins still can).
            var (serversScope, servers) = node.Resolve<VpsService>();
            await using (serversScope)
            {
                var vpses = servers;
                (await vpses.ListAsync(alice)).ShouldBeEmpty();
                await Should.ThrowAsync<PanelNotFoundException>(() => vpses.GetAsync(alice, aliceBox.Id));
                await Should.ThrowAsync<PanelNotFoundException>(() => vpses.StopAsync(alice, aliceBox.Id));
                await Should.ThrowAsync<PanelNotFoundException>(() => vpses.DeleteAsync(alice, aliceBox.Id));
                await Should.ThrowAsync<PanelNotFoundException>(() => vpses.RenameAsync(alice, aliceBox.Id, "mine"));
                (await vpses.GetAsync(Actor.System, aliceBox.Id)).Status.ShouldBe(VpsStatus.Running);
            }

            // Renewal: a certificate within 30 days of its end is reissued; the others are left alone.
            string before;
            await using (var db = node.Database.CreateContext())
            {
                before = await db.EdgeCertificates.Where(c => c.SiteId == a.Id).Select(c => c.CertificatePem).SingleAsync();
                await db.EdgeCertificates.Where(c => c.SiteId == a.Id).ExecuteUpdateAsync(s => s.SetProperty(c => c.NotAfter, DateTime.UtcNow.AddDays(10)));
            }

            var (jobScope, job) = node.Resolve<CertificateRenewalJob>();
            await using (jobScope)
            {
                (await job.RunAsync(CancellationToken.None)).ShouldBe(1);
                (await job.RunAsync(CancellationToken.None)).ShouldBe(0);
            }

            await using (var db = node.Database.CreateContext())
            {
                var renewed = await db.EdgeCertificates.Where(c => c.SiteId == a.Id).SingleAsync();
                renewed.CertificatePem.ShouldNotBe(before);
                renewed.NotAfter.ShouldBeGreaterThan(DateTime.UtcNow.AddDays(80));
            }

            await edge.ReloadAsync();
            (await CurlAsync("alpha.test", https, "/", caFile)).Status.ShouldBe(200);

            // The edge's micro-cache: a repeated GET is answered from memory (still counted and logged); a change the panel
            // makes (here the file manager) clears it, so the next request shows the new page.
            using (var client = new HttpClient())
            {
                async Task<(string Body, bool Hit)> GetAsync()
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{http}/");
                    request.Headers.Host = "bravo.test";
                    using var response = await client.SendAsync(request);
                    response.StatusCode.ShouldBe(HttpStatusCode.OK);
                    return (await response.Content.ReadAsStringAsync(), response.Headers.Contains("X-Edge-Cache"));
                }

                await GetAsync();
                (await GetAsync()).ShouldBe(("<h1>bravo secret</h1>", true));
                using (var page = new MemoryStream("<h1>bravo, edited</h1>"u8.ToArray()))
                {
                    await hosting.WriteFileAsync(bob, b.Id, null, "index.html", page);
                }

                (await GetAsync()).ShouldBe(("<h1>bravo, edited</h1>", false));
            }

            // Each site has its own request rate limit (here a burst of 20, then one a second): beyond it, 429.
            var statuses = new List<int>();
            for (var i = 0; i < 25; i++)
            {
                statuses.Add((await CurlAsync("alpha.test", http, "/")).Status);
            }

            statuses.ShouldContain(429);
            statuses[0].ShouldBe(200);
            (await CurlAsync("bravo.test", http, "/")).Status.ShouldBe(200);

            // Deleting a site removes its names, content and route.
            await hosting.DeleteSiteAsync(bob, b.Id);
            await edge.ReloadAsync();
            (await CurlAsync("bravo.test", http, "/")).Status.ShouldBe(404);
            (await node.Lxc.ExecAsync(new ExecOptions(bobBox.EngineId, ["ls", HostingRuntime.SitesRoot]))).StdOut.Trim().ShouldBeEmpty();
        }
        finally
        {
            File.Delete(caFile);
            await edge.StopAsync(CancellationToken.None);
            var (vpsScope, vpses) = node.Resolve<VpsService>();
            await using (vpsScope)
            {
                foreach (var box in containers.Values)
                {
                    (await node.WaitAsync(await vpses.DeleteAsync(Actor.System, box.Id))).Status.ShouldBe(OperationStatus.Succeeded);
                }
            }
        }
    }

    /// <summary>An edge on the node's services (its access log and health are the ones the hosting service reads).</summary>
    internal static EdgeServer NewEdge(NodeHostFixture node, PanelOptions options) => new(
        node.Services.GetRequiredService<EdgeDirectory>(), node.Services.GetRequiredService<EdgeSignal>(), node.Services.GetRequiredService<SiteAccessLog>(),
        node.Services.GetRequiredService<EdgeStatus>(), node.Services.GetRequiredService<Panel.Core.Hosting.Acme.AcmeChallengeStore>(), options, TimeProvider.System, NullLogger<EdgeServer>.Instance);

    /// <summary>Runs the real curl through the edge (its address pinned with --resolve, so SNI and Host carry the name).</summary>
    internal static async Task<(int Status, string Body)> CurlAsync(string host, int port, string path, string? caFile = null)
    {
        var scheme = caFile is null ? "http" : "https";
        List<string> args = ["-sS", "--max-time", "10", "--resolve", $"{host}:{port}:127.0.0.1", "-w", "\n%{http_code}"];
        if (caFile is not null)
        {
            args.AddRange(["--cacert", caFile]);
        }

        args.Add($"{scheme}://{host}:{port}{path}");
        var r = await ProcessRunner.Instance.RunAsync("curl", args, new ProcessRunOptions(TimeSpan.FromSeconds(15)));
        r.ExitCode.ShouldBe(0, $"curl {string.Join(' ', args)}: {r.StdErr}");
        var output = r.StdOut.TrimEnd('\n');
        var cut = output.LastIndexOf('\n');
        return (int.Parse(output[(cut + 1)..], CultureInfo.InvariantCulture), cut < 0 ? "" : output[..cut].TrimEnd('\n'));
    }

    /// <summary>Asks the edge until the site answers 200 with a body <paramref name="done"/> accepts (up to 20 s).</summary>
    internal static async Task<string> UntilAsync(string host, int port, Func<string, bool> done)
    {
        var clock = Stopwatch.StartNew();
        (int Status, string Body) last = default;
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            last = await CurlAsync(host, port, "/");
            if (last.Status == 200 && done(last.Body.Trim()))
            {
                return last.Body.Trim();
            }

            await Task.Delay(250);
        }

        throw new ShouldAssertException($"{host} did not answer as expected within 20 s; last: {last.Status} {last.Body}");
    }

    /// <summary>A plain-HTTP request through the edge without following redirects: its status and where it points.</summary>
    internal static async Task<(int Status, string Location)> RedirectAsync(string host, int port, string path)
    {
        List<string> args = ["-sS", "--max-time", "10", "--resolve", $"{host}:{port}:127.0.0.1", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", $"http://{host}:{port}{path}"];
        var r = await ProcessRunner.Instance.RunAsync("curl", args, new ProcessRunOptions(TimeSpan.FromSeconds(15)));
        r.ExitCode.ShouldBe(0, $"curl {string.Join(' ', args)}: {r.StdErr}");
        var parts = r.StdOut.Trim().Split(' ', 2);
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), parts.Length > 1 ? parts[1] : "");
    }

    internal static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
