using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Panel.Core;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Hosting;

/// <summary>
/// CPU isolation between tenants, measured through the real edge: tenant A's runtime burns every CPU it can
/// (four busy loops in its container) while B's page is fetched; A's container is held to its plan's one CPU,
/// so B's responses stay within the stated bound of its unloaded latency.
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class HostingIsolationTests(NodeHostFixture node)
{
    /// <summary>Requests per measurement, at least.</summary>
    private const int Samples = 40;

    /// <summary>How long a measurement lasts, at least (requests one after another).</summary>
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_cpu_bound_tenant_does_not_slow_another_tenants_responses_beyond_the_bound()
    {
        node.Require();
        var ct = TestContext.Current.CancellationToken;
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;
        var vpses = scope.ServiceProvider.GetRequiredService<VpsService>();
        var planId = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("One CPU " + Guid.NewGuid().ToString("N")[..6], 1, 128L << 20, null, 1, 128L << 20, 1m), ct);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var boxes = new List<int>();
        var sites = new List<int>();
        var http = HostingTests.FreePort();
        await using var edge = HostingTests.NewEdge(node, new PanelOptions { Edge = { HttpUrl = $"http://127.0.0.1:{http}", HttpsUrl = "", ReloadSeconds = 3600, RequestsPerSecond = 100_000, Burst = 100_000, CacheMilliseconds = 0 } }); // every request reaches B's container
        try
        {
            var a = await hosting.AddSiteAsync(await node.NewCustomerAsync(), new AddSiteRequest($"a-{tag}.test", PlanId: planId), ct);
            var bOwner = await node.NewCustomerAsync();
            var b = await hosting.AddSiteAsync(bOwner, new AddSiteRequest($"b-{tag}.test", PlanId: planId), ct);
            sites.AddRange([a.Id, b.Id]);
            string aEngine;
            await using (var db = node.Database.CreateContext())
            {
                foreach (var domain in new[] { a.Domain, b.Domain })
                {
                    var vpsId = await db.Sites.Where(s => s.Domain == domain).Select(s => s.Space.VpsId!.Value).SingleAsync(ct);
                    boxes.Add(vpsId);
                    var provision = await db.Operations.Where(o => o.VpsId == vpsId && o.Kind == OperationKind.Provision).Select(o => o.Id).SingleAsync(ct);
                    (await node.WaitAsync(provision)).Status.ShouldBe(OperationStatus.Succeeded);
                }

                aEngine = (await node.VpsAsync(boxes[0])).EngineId;
            }

            using (var zip = SiteArchiveTests.Zip(("index.html", "bravo is responsive", 0)))
            {
                await hosting.UploadAsync(bOwner, b.Id, zip, ct);
            }

            await edge.StartAsync(ct);
            using var client = new HttpClient(new SocketsHttpHandler
            {
                ConnectCallback = async (_, token) =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(IPAddress.Loopback, http, token);
                    return new NetworkStream(socket, ownsSocket: true);
                },
                PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            }) { Timeout = TimeSpan.FromSeconds(10) };
            var url = new Uri($"http://{b.Domain}/");
            (await client.GetStringAsync(url, ct)).ShouldBe("bravo is responsive");

            var idle = await MeasureAsync(client, url, ct);

            // A burns: four busy loops (more than its one CPU), each ended by itself after 30 s at the latest.
            async Task<TimeSpan> CpuTime() => (await node.Lxc.GetStateAsync(new StateOptions(aEngine), ct)).Metrics!.CpuTime; // A's cgroup, read on the host
            (await node.Lxc.ExecAsync(new ExecOptions(aEngine, ["sh", "-c", "for i in 1 2 3 4; do timeout -s KILL 30 sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & done"]), ct)).ExitCode.ShouldBe(0);
            await Task.Delay(1000, ct);
            var cpuBefore = await CpuTime();
            var wall = Stopwatch.StartNew();
            var loaded = await MeasureAsync(client, url, ct);
            var cpuUsed = (await CpuTime() - cpuBefore).TotalSeconds / wall.Elapsed.TotalSeconds;

            // A really burned (on a machine shared with other work it gets less than a whole CPU), and never more
            // than its one CPU's worth (the CFS quota from the plan): the other CPU stays for everyone else.
            cpuUsed.ShouldBeInRange(0.25, 1.15, $"A's container used {cpuUsed:0.00} CPUs");

            // The bound: B's median latency under A's load at most 3 times its idle median plus 20 ms, and its
            // 90th percentile under 250 ms (a static page through the edge takes a few ms here).
            var report = string.Create(CultureInfo.InvariantCulture, $"idle median {idle.Median:0.0} ms p90 {idle.P90:0.0} ms; A burning {cpuUsed:0.00} CPUs: median {loaded.Median:0.0} ms p90 {loaded.P90:0.0} ms");
            TestContext.Current.SendDiagnosticMessage(report);
            loaded.Median.ShouldBeLessThanOrEqualTo(idle.Median * 3 + 20, report);
            loaded.P90.ShouldBeLessThan(250, report);
        }
        finally
        {
            await edge.StopAsync(CancellationToken.None);
            foreach (var id in sites)
            {
                await hosting.DeleteSiteAsync(Actor.System, id, CancellationToken.None);
            }

            foreach (var id in boxes)
            {
                (await node.WaitAsync(await vpses.DeleteAsync(Actor.System, id, CancellationToken.None), 90)).Status.ShouldBe(OperationStatus.Succeeded);
            }
        }
    }

    /// <summary>Fetches the page one request after another for <see cref="Window"/> and at least <see cref="Samples"/> times: the median and 90th percentile in ms.</summary>
    private static async Task<(double Median, double P90)> MeasureAsync(HttpClient client, Uri url, CancellationToken ct)
    {
        var times = new List<double>();
        var window = Stopwatch.StartNew();
        while (times.Count < Samples || window.Elapsed < Window)
        {
            var sw = Stopwatch.StartNew();
            using var response = await client.GetAsync(url, ct);
            await response.Content.ReadAsByteArrayAsync(ct);
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        return (times[times.Count / 2], times[(int)(times.Count * 0.9)]);
    }
}
