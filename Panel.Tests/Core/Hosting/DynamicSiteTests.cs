using Microsoft.EntityFrameworkCore;
using Panel.Core;
using Panel.Core.Domain.Hosting;
using Panel.Core.Domain.Operations;
using Panel.Core.Hosting;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Hosting;

/// <summary>
/// A dynamic site end to end: the tenant's own web server (a start script from their zip, executable bit kept) runs
/// as the unprivileged <c>web</c> user in their real container, answers through the real edge (curl), is started
/// again when it dies, restarts with a changed command, and its output is in the server log.
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class DynamicSiteTests(NodeHostFixture node)
{
    // The tenant's "application": each start writes a page saying who runs it, on which port, and which start
    // this is, then serves it with the container's busybox httpd on $PORT (a real server process of theirs).
    private const string StartScript = """
        #!/bin/sh
        n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count
        mkdir -p www
        echo "dynamic user=$(id -un) port=$PORT start=$n mode=${MODE:-first}" > www/index.html
        echo "app start $n on port $PORT"
        exec /usr/local/sbin/httpd -f -p "$PORT" -h www
        """;

    [Fact]
    public async Task A_dynamic_site_runs_the_tenants_server_as_web_restarts_it_when_it_dies_and_logs_its_output()
    {
        node.Require();
        var ct = TestContext.Current.CancellationToken;
        var alice = await node.NewCustomerAsync();
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;
        int? boxId = null;
        int? siteId = null;
        var http = HostingTests.FreePort();
        var options = new PanelOptions { Edge = { HttpUrl = $"http://127.0.0.1:{http}", HttpsUrl = "", ReloadSeconds = 3600 } };
        await using var edge = HostingTests.NewEdge(node, options);
        try
        {
            var planId = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Dyn " + Guid.NewGuid().ToString("N")[..6], 2, 256L << 20, null, 1, 128L << 20, 1m), ct);
            var domain = $"dyn-{Guid.NewGuid().ToString("N")[..8]}.test";

            // A dynamic site needs a start command: none, or one of several lines, is refused before anything exists.
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.AddSiteAsync(alice, new AddSiteRequest(domain, PlanId: planId, Kind: SiteKind.Dynamic), ct))).Field.ShouldBe("Command");
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.AddSiteAsync(alice, new AddSiteRequest(domain, PlanId: planId, Kind: SiteKind.Dynamic, Command: "sh start.sh\nrm -rf /"), ct))).Field.ShouldBe("Command");
            (await hosting.ListAsync(alice, ct)).ShouldBeEmpty();

            var site = await hosting.AddSiteAsync(alice, new AddSiteRequest(domain, PlanId: planId, Kind: SiteKind.Dynamic, Command: "./start.sh"), ct);
            siteId = site.Id;
            site.Kind.ShouldBe(SiteKind.Dynamic);
            site.Command.ShouldBe("./start.sh");
            await using (var db = node.Database.CreateContext())
            {
                boxId = await db.HostingSpaces.Where(s => s.OwnerId == alice.UserId).Select(s => s.VpsId).SingleAsync(ct);
                var provision = await db.Operations.Where(o => o.VpsId == boxId && o.Kind == OperationKind.Provision).Select(o => o.Id).SingleAsync(ct);
                (await node.WaitAsync(provision)).Status.ShouldBe(OperationStatus.Succeeded);
            }

            var box = await node.VpsAsync(boxId!.Value);

            // The zip keeps the script's executable bit (0755), so "./start.sh" runs as it is.
            using (var zip = SiteArchiveTests.Zip(("start.sh", StartScript.Replace("\r", "", StringComparison.Ordinal) + "\n", 0x81ED)))
            {
                await hosting.UploadAsync(alice, site.Id, zip, ct);
            }

            await edge.StartAsync(CancellationToken.None);
            var first = await HostingTests.UntilAsync(domain, http, body => body.StartsWith("dynamic ", StringComparison.Ordinal));
            first.ShouldBe($"dynamic user=web port={site.Port} start={Start(first)} mode=first");

            // What the server wrote (its count file and page) counts beside the upload once the node measures the
            // space (HostingContentJob; every 15 minutes, and after each SFTP session).
            var uploaded = System.Text.Encoding.UTF8.GetByteCount(StartScript.Replace("\r", "", StringComparison.Ordinal) + "\n");
            await using (var db = node.Database.CreateContext())
            {
                (await db.Sites.Where(s => s.Id == site.Id).Select(s => s.ContentBytes).SingleAsync(ct)).ShouldBe(uploaded);
            }

            var (jobScope, contentJob) = node.Resolve<Panel.Core.Jobs.Hosting.HostingContentJob>();
            await using (jobScope)
            {
                (await contentJob.RunAsync(ct)).ShouldBeGreaterThan(0);
            }

            await using (var db = node.Database.CreateContext())
            {
                var written = Start(first).ToString(System.Globalization.CultureInfo.InvariantCulture).Length + 1 + first.Length + 1;
                (await db.Sites.Where(s => s.Id == site.Id).Select(s => s.ContentBytes).SingleAsync(ct)).ShouldBe(uploaded + written);
            }

            // Its server runs as web (never root), in a session of its own under the supervisor.
            var ps = await node.Lxc.ExecAsync(new ExecOptions(box.EngineId, ["sh", "-c", $"ps -o user=,args= -u web | grep -F 'httpd -f -p {site.Port}' | grep -v grep"]), ct);
            ps.StdOut.ShouldContain("web");

            // Killed, it is started again within a few seconds (the start count grows), and the log says so.
            var before = Start(first);
            await node.Lxc.ExecAsync(new ExecOptions(box.EngineId, ["pkill", "-KILL", "-u", "web", "-f", $"httpd -f -p {site.Port}"]), ct);
            var again = await HostingTests.UntilAsync(domain, http, body => body.StartsWith("dynamic ", StringComparison.Ordinal) && Start(body) > before);
            again.ShouldContain("user=web");
            var log = await hosting.ServerLogAsync(alice, site.Id, ct);
            log.ShouldContain("starting: ./start.sh");
            log.ShouldContain("exited with status");
            log.ShouldContain($"app start {Start(again)} on port {site.Port}");

            // A changed command restarts the server with it; a bad one is refused and changes nothing.
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.SetCommandAsync(alice, site.Id, "   ", ct))).Field.ShouldBe("Command");
            (await hosting.SetCommandAsync(alice, site.Id, "MODE=second ./start.sh", ct)).Command.ShouldBe("MODE=second ./start.sh");
            (await HostingTests.UntilAsync(domain, http, body => body.EndsWith("mode=second", StringComparison.Ordinal))).ShouldContain("user=web");

            // Only the owner (and admins) read the log or change the command.
            var bob = await node.NewCustomerAsync();
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.ServerLogAsync(bob, site.Id, ct));
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.SetCommandAsync(bob, site.Id, "sh -c id", ct));
            (await hosting.ServerLogAsync(Actor.System, site.Id, ct)).ShouldContain("MODE=second");
        }
        finally
        {
            await edge.StopAsync(CancellationToken.None);
            // The site goes with its names (other tests in this collection count every site there is).
            if (siteId is { } sid)
            {
                await hosting.DeleteSiteAsync(Actor.System, sid, CancellationToken.None);
            }

            if (boxId is { } id)
            {
                var (vpsScope, vpses) = node.Resolve<VpsService>();
                await using (vpsScope)
                {
                    (await node.WaitAsync(await vpses.DeleteAsync(Actor.System, id))).Status.ShouldBe(OperationStatus.Succeeded);
                }
            }
        }
    }

    private static int Start(string body)
    {
        var at = body.IndexOf("start=", StringComparison.Ordinal);
        return at < 0 ? 0 : int.Parse(body[(at + 6)..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }
}
