using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Panel.Core;
using Panel.Core.Domain.Operations;
using Panel.Core.Hosting;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Web.Edge;

namespace Panel.Bench;

/// <summary>
/// Shared hosting's serving path: a real tenant container and site set up through <see cref="HostingService"/>
/// on a scratch database, a real <see cref="EdgeServer"/> in front of it, and <c>wrk</c> fetching the site's
/// static page through the edge, beside Debian's nginx (started here on a loopback port with its own config in
/// a temporary folder, stopped after) serving the same file directly. Rounds alternate between the two so both
/// see the same machine; the site's own web server (busybox httpd in the container) is measured alone too.
/// </summary>
public static partial class HostingBench
{
    private const long MiB = 1L << 20;

    /// <summary>Runs the suite.</summary>
    public static async Task<BenchReport> RunAsync(BenchOptions bench)
    {
        var admin = Environment.GetEnvironmentVariable("PANEL_BENCH_PG")
            ?? throw new InvalidOperationException("PANEL_BENCH_PG is not set: run ./panel bench hosting");
        var rounds = Math.Clamp(bench.Rounds, 1, 20);
        var seconds = 5;
        var suffix = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
        var database = "panel_bench_" + suffix;
        await ProvisionBench.ExecAsync(admin, $"CREATE DATABASE \"{database}\"");
        var connection = new NpgsqlConnectionStringBuilder(admin) { Database = database, MaxPoolSize = 30 }.ConnectionString;
        var engine = new EngineOptions
        {
            StateDirectory = Path.Combine(Path.GetTempPath(), "vpspanel-bench-" + suffix),
            ImagesDirectory = Path.Combine(Environment.GetEnvironmentVariable("PANEL_STATE_DIR") ?? "/var/lib/vpspanel", "images"),
            BridgeName = "vpsb" + suffix,
            BridgeCidr = "10.252.8.1/24",
            NftTable = "vpspanel_b" + suffix,
        };
        var page = StaticPage();
        var nginxDir = Path.Combine(Path.GetTempPath(), "vpspanel-bench-nginx-" + suffix);
        var rows = new List<BenchRow>();
        var figures = new Dictionary<string, double>();
        var notes = new List<string>();
        IHost? host = null;
        EdgeServer? edge = null;
        EdgeServer? uncached = null;
        Process? nginx = null;
        try
        {
            var migrate = new DbContextOptionsBuilder<PanelDbContext>();
            PanelDatabase.Configure(migrate, connection);
            await using (var db = new PanelDbContext(migrate.Options))
            {
                await PanelDatabase.MigrateAsync(db);
            }

            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
            var options = new PanelOptions { Engine = engine };
            options.Jobs.NodeName = "bench" + suffix;
            options.Jobs.HeartbeatSeconds = 1;
            options.Jobs.WorkerCount = 2;
            builder.Services.AddSingleton(options);
            builder.Services.AddPanelCore(connection, options);
            host = builder.Build();
            await host.StartAsync();
            var sp = host.Services;
            await using (var scope = sp.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
            }

            await ProvisionBench.WaitForNodeAsync(migrate.Options, options.Jobs.NodeName);
            var tenant = await ProvisionBench.NewCustomerAsync(sp);

            // The tenant's plan, site and content, through the panel's own service (as the Websites page does).
            var domain = "bench-" + suffix + ".test";
            int siteId, boxId;
            await using (var scope = sp.CreateAsyncScope())
            {
                var hosting = scope.ServiceProvider.GetRequiredService<HostingService>();
                var planId = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Bench web " + suffix, 1, 256 * MiB, null, 1, 256 * MiB, 0m));
                siteId = (await hosting.AddSiteAsync(tenant, new AddSiteRequest(domain, PlanId: planId))).Id;
                await using var db = new PanelDbContext(migrate.Options);
                boxId = await db.HostingSpaces.Where(s => s.OwnerId == tenant.UserId).Select(s => s.VpsId!.Value).SingleAsync();
                var provision = await db.Operations.Where(o => o.VpsId == boxId && o.Kind == OperationKind.Provision).Select(o => o.Id).SingleAsync();
                await ProvisionBench.WaitAsync(sp, provision, 120);
                using var zip = Zip(page);
                await hosting.UploadAsync(tenant, siteId, zip);
            }

            // The edge, as the panel runs it (rate limiter, counters and access log in the path), on a free port, and the
            // same edge with its micro-cache off (every request forwarded to the site's own web server) on another.
            // The per-site token bucket is set far above what one machine can send, so it admits everything.
            async Task<(EdgeServer Server, int Port)> StartEdgeAsync(int cacheMilliseconds)
            {
                var port = FreePort();
                var edgeOptions = new PanelOptions { Edge = { HttpUrl = $"http://127.0.0.1:{port}", HttpsUrl = "", ReloadSeconds = 3600, RequestsPerSecond = 10_000_000, Burst = 10_000_000, CacheMilliseconds = cacheMilliseconds } };

                var server = new EdgeServer(sp.GetRequiredService<EdgeDirectory>(), sp.GetRequiredService<EdgeSignal>(), sp.GetRequiredService<SiteAccessLog>(),
                    sp.GetRequiredService<EdgeStatus>(), sp.GetRequiredService<Panel.Core.Hosting.Acme.AcmeChallengeStore>(), edgeOptions, TimeProvider.System, NullLogger<EdgeServer>.Instance);
                await server.StartAsync(CancellationToken.None);
                return (server, port);
            }

            (edge, var edgePort) = await StartEdgeAsync(new PanelOptions().Edge.CacheMilliseconds); // the default
            (uncached, var uncachedPort) = await StartEdgeAsync(0);
            var backend = (await sp.GetRequiredService<EdgeDirectory>().LoadAsync()).Single(s => s.SiteId == siteId).Destination
                ?? throw new InvalidOperationException("the site's container has no address");
            await ServedAsync(new Uri($"http://127.0.0.1:{edgePort}/"), domain, page);
            await ServedAsync(new Uri($"http://127.0.0.1:{uncachedPort}/"), domain, page);
            await ServedAsync(new Uri(backend.TrimEnd('/') + "/"), null, page);

            // Debian's nginx on the same file: its own config, prefix and logs in a temporary folder.
            var nginxPort = FreePort();
            nginx = await StartNginxAsync(nginxDir, nginxPort, page);
            await ServedAsync(new Uri($"http://127.0.0.1:{nginxPort}/"), null, page);

            var targets = new (string Name, string Url, string? Host)[]
            {
                ("edge", $"http://127.0.0.1:{edgePort}/", domain),
                ("nginx", $"http://127.0.0.1:{nginxPort}/", null),
                ("backend", backend.TrimEnd('/') + "/", null),
                ("uncached", $"http://127.0.0.1:{uncachedPort}/", domain),
            };
            var results = targets.ToDictionary(t => t.Name, _ => new List<WrkResult>());
            foreach (var t in targets)
            {
                await WrkAsync(t.Url, t.Host, 2); // warm-up: JIT, connection pools, page cache
            }

            for (var round = 0; round < rounds; round++)
            {
                foreach (var t in targets)
                {
                    results[t.Name].Add(await WrkAsync(t.Url, t.Host, seconds));
                }
            }

            var e = results["edge"];
            var n = results["nginx"];
            var b = results["backend"];
            var u = results["uncached"];
            rows.Add(new BenchRow("static page through the edge", "req/s", Stats.Of([.. e.Select(r => r.RequestsPerSecond)]), Stats.Of([.. n.Select(r => r.RequestsPerSecond)]),
                "Debian nginx serving the same file directly", 0.7, HigherIsBetter: true));
            rows.Add(new BenchRow("static page through the edge, p99", "ms", Stats.Of([.. e.Select(r => r.P99Ms)]), Stats.Of([.. n.Select(r => r.P99Ms)]),
                "Debian nginx serving the same file directly", null));
            figures["backend_alone.rps_median"] = Stats.Of([.. b.Select(r => r.RequestsPerSecond)]).Median;
            figures["backend_alone.p99_ms_median"] = Stats.Of([.. b.Select(r => r.P99Ms)]).Median;
            figures["edge_over_backend_alone.rps_ratio"] = Math.Round(rows[0].Panel.Median / Math.Max(1, figures["backend_alone.rps_median"]), 2);
            figures["edge_uncached.rps_median"] = Stats.Of([.. u.Select(r => r.RequestsPerSecond)]).Median;
            figures["edge_uncached.p99_ms_median"] = Stats.Of([.. u.Select(r => r.P99Ms)]).Median;
            figures["edge_uncached_over_backend_alone.rps_ratio"] = Math.Round(figures["edge_uncached.rps_median"] / Math.Max(1, figures["backend_alone.rps_median"]), 2);
            figures["page_bytes"] = page.Length;
            figures["errors.edge"] = e.Sum(r => r.Errors);
            figures["errors.nginx"] = n.Sum(r => r.Errors);
            figures["errors.backend"] = b.Sum(r => r.Errors);
            figures["errors.edge_uncached"] = u.Sum(r => r.Errors);

            // Clean up through the panel: the site, then the tenant's container.
            await edge.StopAsync(CancellationToken.None);
            await uncached.StopAsync(CancellationToken.None);
            await using (var scope = sp.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<HostingService>().DeleteSiteAsync(tenant, siteId);
            }

            var deleted = await ProvisionBench.VpsAsync(sp, s => s.DeleteAsync(Actor.System, boxId));
            await ProvisionBench.WaitAsync(sp, deleted, 120);
        }
        finally
        {
            if (nginx is not null)
            {
                await StopNginxAsync(nginx);
            }

            if (edge is not null)
            {
                await edge.DisposeAsync();
            }

            if (uncached is not null)
            {
                await uncached.DisposeAsync();
            }

            if (host is not null)
            {
                var lxc = (LxcDriver)host.Services.GetRequiredService<DriverRegistry>().Get("lxc");
                foreach (var id in await lxc.ListAsync(new ListOptions()))
                {
                    await lxc.DeleteAsync(new DeleteOptions(id, Force: true));
                }

                await host.StopAsync(TimeSpan.FromSeconds(10));
                await lxc.DiskPool.IdleAsync();
                host.Dispose();
            }

            var runner = ProcessRunner.Instance;
            await new AntiSpoofRules(engine.NftTable, runner).DeleteTableAsync();
            await new NodeBridge(engine.BridgeName, new GuestNetwork(engine.BridgeCidr), runner).DeleteAsync();
            await runner.RunAsync("rm", ["-rf", "--one-file-system", engine.StateDirectory, nginxDir]);
            NpgsqlConnection.ClearAllPools();
            await ProvisionBench.ExecAsync(admin, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        }

        var facts = HostProbe.Read();
        var machine = new Dictionary<string, string>
        {
            ["cpus"] = facts.CpuCount.ToString(CultureInfo.InvariantCulture),
            ["memory"] = $"{facts.MemoryBytes >> 20} MiB",
            ["kernel"] = facts.KernelRelease,
        };
        notes.Add($"wrk -t2 -c{Connections} -d{seconds}s --latency, {rounds} rounds alternating edge / nginx / backend alone / edge uncached after a 2 s warm-up each; medians over the rounds; wrk, the edge and nginx share the machine's {facts.CpuCount} CPUs");
        notes.Add("edge: the panel's EdgeServer (YARP on Kestrel, HTTP) as configured by default: its per-site gate on every request (token bucket set far above the load, byte counters, access-log ring), then its micro-cache (Panel:Edge:CacheMilliseconds, default 1000: the page is fetched from the site's busybox httpd in the tenant's LXC container, 1 vCPU plan, over the bridge about once a second, the other requests are answered from memory)");
        notes.Add("nginx: Debian's nginx, 2 workers, sendfile, access_log off, keep-alive, serving the same file from a temporary folder on a loopback port (not the system service)");
        notes.Add("edge_uncached: the same edge with its micro-cache off (CacheMilliseconds 0), so every request is forwarded to the site's busybox httpd, which closes each connection: the forwarding cost beside backend_alone");
        notes.Add("backend_alone: wrk straight at the container's busybox httpd (no keep-alive: one connection per request) - the ceiling the edge forwards to");
        notes.Add("goal: edge requests/s at least 0.7 of nginx's (ratio = edge / nginx; higher is better)");
        return new BenchReport("hosting", DateTime.UtcNow, machine, rows, figures, notes);
    }

    private const int Connections = 32;

    /// <summary>A static page of about 2 KiB (a small real home page).</summary>
    private static byte[] StaticPage()
    {
        var sb = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>Bench site</title></head><body><h1>Bench site</h1>\n");
        for (var i = 0; sb.Length < 2000; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<p>Paragraph {i}: a static page served by the tenant's web server through the edge.</p>\n");
        }

        sb.Append("</body></html>\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static MemoryStream Zip(byte[] page)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var s = zip.CreateEntry("index.html").Open();
            s.Write(page);
        }

        ms.Position = 0;
        return ms;
    }

    private static async Task<Process> StartNginxAsync(string dir, int port, byte[] page)
    {
        var www = Path.Combine(dir, "www");
        Directory.CreateDirectory(www);
        Directory.CreateDirectory(Path.Combine(dir, "logs"));
        await File.WriteAllBytesAsync(Path.Combine(www, "index.html"), page);
        var conf = Path.Combine(dir, "nginx.conf");
        await File.WriteAllTextAsync(conf, $$"""
            daemon off;
            master_process on;
            worker_processes 2;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/logs/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                sendfile on;
                tcp_nopush on;
                keepalive_requests 1000000;
                default_type text/html;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                server {
                    listen 127.0.0.1:{{port}};
                    root {{www}};
                }
            }
            """);
        var psi = new ProcessStartInfo("/usr/sbin/nginx") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-p", dir, "-c", conf, "-e", Path.Combine(dir, "logs", "error.log") })
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("nginx did not start");
        for (var i = 0; i < 100; i++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"nginx exited with {process.ExitCode}: {await process.StandardError.ReadToEndAsync()}");
            }

            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port);
                return process;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        process.Kill(entireProcessTree: true);
        throw new TimeoutException("nginx did not listen within 5 s");
    }

    private static async Task StopNginxAsync(Process nginx)
    {
        if (!nginx.HasExited)
        {
            await ProcessRunner.Instance.RunAsync("kill", ["-QUIT", nginx.Id.ToString(CultureInfo.InvariantCulture)]);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await nginx.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                nginx.Kill(entireProcessTree: true);
            }
        }

        nginx.Dispose();
    }

    private static async Task ServedAsync(Uri url, string? host, byte[] page)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var expected = Encoding.UTF8.GetString(page);
        string last = "";
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                if (host is not null)
                {
                    request.Headers.Host = host;
                }

                using var response = await http.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                if (response.IsSuccessStatusCode && body == expected)
                {
                    return;
                }

                last = $"{(int)response.StatusCode}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"{url} did not serve the page within 20 s (last: {last})");
    }

    private static async Task<WrkResult> WrkAsync(string url, string? host, int seconds)
    {
        List<string> args = ["-t2", $"-c{Connections}", $"-d{seconds}s", "--latency", "--timeout", "5s"];
        if (host is not null)
        {
            args.AddRange(["-H", "Host: " + host]);
        }

        args.Add(url);
        var r = await ProcessRunner.Instance.RunAsync("wrk", args, new ProcessRunOptions(TimeSpan.FromSeconds(seconds + 30)));
        if (!r.Succeeded)
        {
            throw new InvalidOperationException($"wrk {string.Join(' ', args)}: {r.StdErr}{r.StdOut}");
        }

        return WrkResult.Parse(r.StdOut);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>What one wrk run reported.</summary>
    private sealed record WrkResult(double RequestsPerSecond, double P99Ms, long Errors)
    {
        public static WrkResult Parse(string output)
        {
            var rps = RpsLine().Match(output);
            var p99 = P99Line().Match(output);
            if (!rps.Success || !p99.Success)
            {
                throw new InvalidOperationException("unexpected wrk output: " + output);
            }

            var value = double.Parse(p99.Groups[1].Value, CultureInfo.InvariantCulture);
            var ms = p99.Groups[2].Value switch { "us" => value / 1000, "ms" => value, "s" => value * 1000, var u => throw new InvalidOperationException("wrk unit " + u) };
            long errors = 0;
            if (Non2xx().Match(output) is { Success: true } bad)
            {
                errors += long.Parse(bad.Groups[1].Value, CultureInfo.InvariantCulture);
            }

            if (SocketErrors().Match(output) is { Success: true } se)
            {
                errors += Enumerable.Range(1, 4).Sum(g => long.Parse(se.Groups[g].Value, CultureInfo.InvariantCulture));
            }

            return new WrkResult(Math.Round(double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture), 1), Math.Round(ms, 2), errors);
        }
    }

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RpsLine();

    [GeneratedRegex(@"^\s+99%\s+([0-9.]+)(us|ms|s)\s*$", RegexOptions.Multiline)]
    private static partial Regex P99Line();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex Non2xx();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();
}
