using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Npgsql;
using NpgsqlTypes;
using Panel.Core;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Nodes;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor.Host;

namespace Panel.Bench;

/// <summary>
/// The admin UI with 10,000 VPSes in a scratch database: the server time of the query the all-servers page
/// makes (<see cref="VpsService.SearchAsync"/>) for its first page and for filters, beside the same SQL sent
/// with raw Npgsql; then the real panel process with N Blazor circuits open (Chromium tabs on the page),
/// and its working set per circuit.
/// </summary>
public static class UiBench
{
    private const int Servers = 10_000, Customers = 500, Circuits = 20;
    private const string AdminEmail = "admin@bench.local", AdminPassword = "Bench-Admin-Passw0rd";
    private static readonly string[] BenchRoles = [Roles.Admin, Roles.Customer];
    private static readonly string[] NodeLetters = ["a", "b", "c"];

    /// <summary>Runs the suite.</summary>
    public static async Task<BenchReport> RunAsync(BenchOptions bench)
    {
        var admin = Environment.GetEnvironmentVariable("PANEL_BENCH_PG")
            ?? throw new InvalidOperationException("PANEL_BENCH_PG is not set: run ./panel bench ui");
        var suffix = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
        var database = "panel_bench_" + suffix;
        await ExecAsync(admin, $"CREATE DATABASE \"{database}\"");
        var connection = new NpgsqlConnectionStringBuilder(admin) { Database = database }.ConnectionString;
        var rows = new List<BenchRow>();
        var figures = new Dictionary<string, double>();
        var samples = Math.Max(50, bench.Iterations * 5);
        try
        {
            var migrate = new DbContextOptionsBuilder<PanelDbContext>();
            PanelDatabase.Configure(migrate, connection);
            await using (var db = new PanelDbContext(migrate.Options))
            {
                await PanelDatabase.MigrateAsync(db);
            }

            var services = new ServiceCollection();
            services.AddLogging();
            services.AddDataProtection().UseEphemeralDataProtectionProvider();
            services.AddPanelCore(connection, new PanelOptions { Jobs = { RunServer = false } }).AddDefaultTokenProviders();
            await using var sp = services.BuildServiceProvider();
            var seed = Stopwatch.StartNew();
            await SeedAsync(sp, migrate.Options, connection);
            figures["seed_seconds"] = Math.Round(seed.Elapsed.TotalSeconds, 1);

            // The same queries as the page, through the service and as raw SQL.
            var queries = new (string Name, VpsQuery Query)[]
            {
                ("all servers: first page", new VpsQuery()),
                ("all servers: search 'web-77'", new VpsQuery(Search: "web-77")),
                ("all servers: running on node-b by name", new VpsQuery(Status: VpsStatus.Running, Node: "node-b", Sort: VpsSort.Hostname)),
                ("all servers: search an owner's email", new VpsQuery(Search: "customer-0042@")),
            };
            foreach (var (name, query) in queries)
            {
                var panel = await TimeAsync(samples, async () =>
                {
                    await using var scope = sp.CreateAsyncScope();
                    var (total, page) = await scope.ServiceProvider.GetRequiredService<VpsService>().SearchAsync(Actor.System, query);
                    return total + page.Count;
                });
                var peer = await TimeAsync(samples, () => RawSearchAsync(connection, query));
                rows.Add(new BenchRow(name, "ms", Stats.Of(panel.Times), Stats.Of(peer.Times), "the same SQL with raw Npgsql", null));
                if (panel.Result != peer.Result)
                {
                    throw new InvalidOperationException($"{name}: the service found {panel.Result}, raw SQL {peer.Result} (rows + total)");
                }

                figures[$"{Key(name)}.p95_ms"] = Stats.Of(panel.Times).P95;
            }

            figures["goal.p95_ms"] = 100;
            figures["goal.met"] = rows.All(r => r.Panel.P95 < 100) ? 1 : 0;

            // Memory per connected circuit, in the real panel process.
            var (perCircuit, baseline, loaded) = await CircuitMemoryAsync(connection);
            figures["circuits"] = Circuits;
            figures["circuit.panel_working_set_before_mib"] = Math.Round(baseline / 1048576.0, 1);
            figures["circuit.panel_working_set_after_mib"] = Math.Round(loaded / 1048576.0, 1);
            figures["circuit.kib_per_circuit"] = Math.Round(perCircuit / 1024.0, 1);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecAsync(admin, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        }

        var facts = HostProbe.Read();
        var machine = new Dictionary<string, string>
        {
            ["cpus"] = facts.CpuCount.ToString(CultureInfo.InvariantCulture),
            ["memory"] = $"{facts.MemoryBytes >> 20} MiB",
            ["kernel"] = facts.KernelRelease,
        };
        List<string> notes =
        [
            $"{Servers} VPSes ({Customers} customers, 3 nodes, an address each; 5% deleted) seeded with COPY in a scratch database, then ANALYZE",
            $"panel: VpsService.SearchAsync as Admin/Servers calls it (count, 25-row page with owner and node, the page's addresses), each call in its own scope and DbContext; {samples} samples after 5 warm-ups",
            "peer: the same three statements written by hand and sent with raw Npgsql on a pooled connection",
            "goal: p95 under 100 ms server time for each query",
            $"circuits: the real panel (Panel.Web, no job server) with {Circuits} Chromium tabs on /admin/servers, each its own Blazor circuit; working set (VmRSS) after they are all interactive minus before, divided by {Circuits}; a first tab warms the page up first",
        ];
        return new BenchReport("ui", DateTime.UtcNow, machine, rows, figures, notes);
    }

    private static string Key(string name) => new(name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());

    private static async Task<(List<double> Times, int Result)> TimeAsync(int samples, Func<Task<int>> call)
    {
        var result = 0;
        for (var i = 0; i < 5; i++)
        {
            result = await call();
        }

        var times = new List<double>(samples);
        for (var i = 0; i < samples; i++)
        {
            var started = Stopwatch.GetTimestamp();
            result = await call();
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return (times, result);
    }

    /// <summary>What <see cref="VpsService.SearchAsync"/> asks, by hand: the count, the page, the page's addresses.</summary>
    private static async Task<int> RawSearchAsync(string connection, VpsQuery query)
    {
        await using var conn = new NpgsqlConnection(connection);
        await conn.OpenAsync();
        var where = new List<string>();
        var parameters = new List<NpgsqlParameter>();
        if (query.Status is { } status)
        {
            where.Add("v.status = @status");
            parameters.Add(new NpgsqlParameter("status", status.ToString()));
        }
        else
        {
            where.Add("v.deleted_at IS NULL");
        }

        if (query.Node is { } node)
        {
            where.Add("EXISTS (SELECT 1 FROM nodes n WHERE n.id = v.node_id AND n.name = @node)");
            parameters.Add(new NpgsqlParameter("node", node));
        }

        if (query.Search is { } search)
        {
            where.Add("(v.hostname ILIKE @pattern OR v.engine_id = @text OR EXISTS (SELECT 1 FROM users u WHERE u.id = v.owner_id AND u.email ILIKE @pattern))");
            parameters.Add(new NpgsqlParameter("pattern", "%" + search + "%"));
            parameters.Add(new NpgsqlParameter("text", search));
        }

        var filter = string.Join(" AND ", where);
        await using var count = new NpgsqlCommand($"SELECT count(*) FROM vpses v WHERE {filter}", conn);
        count.Parameters.AddRange(parameters.Select(p => p.Clone()).ToArray());
        var total = Convert.ToInt32(await count.ExecuteScalarAsync(), CultureInfo.InvariantCulture);

        var order = query.Sort == VpsSort.Hostname ? "v.hostname, v.id" : "v.id DESC";
        await using var page = new NpgsqlCommand(
            $"""
             SELECT v.id, v.hostname, v.status, p.name, n.name, (SELECT u.email FROM users u WHERE u.id = v.owner_id LIMIT 1), v.busy_operation_id, v.created_at
             FROM vpses v JOIN plans p ON p.id = v.plan_id LEFT JOIN nodes n ON n.id = v.node_id
             WHERE {filter} ORDER BY {order} LIMIT 25 OFFSET 0
             """, conn);
        page.Parameters.AddRange(parameters.Select(p => p.Clone()).ToArray());
        var ids = new List<int>();
        await using (var reader = await page.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetInt32(0));
                _ = (reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5));
            }
        }

        await using var addresses = new NpgsqlCommand("SELECT vps_id, address FROM ip_addresses WHERE vps_id = ANY(@ids)", conn);
        addresses.Parameters.AddWithValue("ids", ids.ToArray());
        await using (var reader = await addresses.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                _ = reader.GetFieldValue<IPAddress>(1).ToString();
            }
        }

        return total + ids.Count;
    }

    private static async Task SeedAsync(ServiceProvider sp, DbContextOptions<PanelDbContext> options, string connection)
    {
        await using (var scope = sp.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
            var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole<Guid>>>();
            foreach (var role in BenchRoles)
            {
                if (!await roles.RoleExistsAsync(role))
                {
                    await roles.CreateAsync(new IdentityRole<Guid>(role));
                }
            }
        }

        var now = DateTime.UtcNow;
        int[] nodeIds;
        int[] planIds, imageIds;
        Guid customerRole;
        await using (var db = new PanelDbContext(options))
        {
            var nodes = NodeLetters.Select((n, i) => new Node
            {
                Name = "node-" + n, Hostname = $"node-{n}.bench.local", CpuCount = 64, MemoryBytes = 1L << 40, DiskBytes = 1L << 44, LastHeartbeatAt = now, RegisteredAt = now,
                Kernel = "bench", GuestNetwork = $"10.24{i}.0.1/20", Images = ["busybox", "debian-12"],
            }).ToList();
            db.Nodes.AddRange(nodes);
            await db.SaveChangesAsync();
            nodeIds = [.. nodes.Select(n => n.Id)];
            planIds = await db.Plans.Select(p => p.Id).ToArrayAsync();
            imageIds = await db.Images.Select(i => i.Id).ToArrayAsync();
            customerRole = await db.Roles.Where(r => r.Name == Roles.Customer).Select(r => r.Id).SingleAsync();
        }

        await using var conn = new NpgsqlConnection(connection);
        await conn.OpenAsync();
        var owners = Enumerable.Range(0, Customers).Select(_ => Guid.NewGuid()).ToArray();
        await using (var users = await conn.BeginBinaryImportAsync(
            "COPY users (id, user_name, normalized_user_name, email, normalized_email, email_confirmed, security_stamp, concurrency_stamp, phone_number_confirmed, two_factor_enabled, lockout_enabled, access_failed_count, display_name, created_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < Customers; i++)
            {
                var email = $"customer-{i:0000}@bench.example";
                await users.StartRowAsync();
                await users.WriteAsync(owners[i], NpgsqlDbType.Uuid);
                await users.WriteAsync(email);
                await users.WriteAsync(email.ToUpperInvariant());
                await users.WriteAsync(email);
                await users.WriteAsync(email.ToUpperInvariant());
                await users.WriteAsync(true);
                await users.WriteAsync(Guid.NewGuid().ToString("N"));
                await users.WriteAsync(Guid.NewGuid().ToString());
                await users.WriteAsync(false);
                await users.WriteAsync(false);
                await users.WriteAsync(true);
                await users.WriteAsync(0);
                await users.WriteAsync($"customer {i}");
                await users.WriteAsync(now.AddDays(-i % 300), NpgsqlDbType.TimestampTz);
            }

            await users.CompleteAsync();
        }

        await using (var userRoles = await conn.BeginBinaryImportAsync("COPY user_roles (user_id, role_id) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var owner in owners)
            {
                await userRoles.StartRowAsync();
                await userRoles.WriteAsync(owner, NpgsqlDbType.Uuid);
                await userRoles.WriteAsync(customerRole, NpgsqlDbType.Uuid);
            }

            await userRoles.CompleteAsync();
        }

        var statuses = new[] { VpsStatus.Running, VpsStatus.Running, VpsStatus.Running, VpsStatus.Stopped, VpsStatus.Running, VpsStatus.Suspended, VpsStatus.Running, VpsStatus.Error };
        await using (var vpses = await conn.BeginBinaryImportAsync(
            "COPY vpses (engine_id, owner_id, hostname, plan_id, image_id, node_id, mac_address, vcpus, memory_bytes, disk_bytes, max_processes, port_speed_mbit, status, should_run, created_at, updated_at, deleted_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < Servers; i++)
            {
                var engineId = "v" + i.ToString("x11", CultureInfo.InvariantCulture);
                var deleted = i % 20 == 19;
                var status = deleted ? VpsStatus.Deleted : statuses[i % statuses.Length];
                await vpses.StartRowAsync();
                await vpses.WriteAsync(engineId);
                await vpses.WriteAsync(owners[i % Customers], NpgsqlDbType.Uuid);
                await vpses.WriteAsync($"web-{i}.customer{i % Customers}.example");
                await vpses.WriteAsync(planIds[i % planIds.Length]);
                await vpses.WriteAsync(imageIds[i % imageIds.Length]);
                await vpses.WriteAsync(nodeIds[i % nodeIds.Length]);
                await vpses.WriteAsync(VpsService.MacFor(engineId));
                await vpses.WriteAsync(1);
                await vpses.WriteAsync(512L << 20);
                await vpses.WriteAsync(5L << 30);
                await vpses.WriteAsync(512);
                await vpses.WriteAsync(100);
                await vpses.WriteAsync(status.ToString());
                await vpses.WriteAsync(status == VpsStatus.Running);
                await vpses.WriteAsync(now.AddMinutes(-Servers + i), NpgsqlDbType.TimestampTz);
                await vpses.WriteAsync(now, NpgsqlDbType.TimestampTz);
                if (deleted)
                {
                    await vpses.WriteAsync(now, NpgsqlDbType.TimestampTz);
                }
                else
                {
                    await vpses.WriteNullAsync();
                }
            }

            await vpses.CompleteAsync();
        }

        // One address each: three /20 pools (one per node network), then the n-th free address to the n-th live VPS.
        var pools = sp.GetRequiredService<IpPoolService>();
        for (var i = 0; i < 3; i++)
        {
            await pools.CreateAsync(Actor.System, $"bench-{i}", $"10.24{i}.0.0/20", $"10.24{i}.0.1", $"10.24{i}.0.2", $"10.24{i}.15.254", $"node-{"abc"[i]}");
        }

        await using (var assign = new NpgsqlCommand(
            """
            UPDATE ip_addresses a SET vps_id = v.id, allocated_at = now()
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM vpses WHERE deleted_at IS NULL) v,
                 (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM ip_addresses) x
            WHERE a.id = x.id AND x.rn = v.rn
            """, conn))
        {
            await assign.ExecuteNonQueryAsync();
        }

        await using var analyze = new NpgsqlCommand("ANALYZE", conn);
        await analyze.ExecuteNonQueryAsync();
    }

    /// <summary>Starts the panel, opens the all-servers page in <see cref="Circuits"/> tabs, and returns the working set per circuit.</summary>
    private static async Task<(double PerCircuit, long Before, long After)> CircuitMemoryAsync(string connection)
    {
        var dll = Path.GetFullPath(Path.Combine("Panel.Web", "bin", "Release", "net10.0", "Panel.Web.dll"));
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: ./panel bench ui builds it");
        }

        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = Path.GetDirectoryName(dll)!, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("PANEL_", StringComparison.Ordinal) || k.StartsWith("Panel__", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["ConnectionStrings__Panel"] = connection;
        start.Environment["PANEL_ADMIN_EMAIL"] = AdminEmail;
        start.Environment["PANEL_ADMIN_PASSWORD"] = AdminPassword;
        start.Environment["Panel__StaticWebAssetsFromBuild"] = "true";
        start.Environment["Panel__Jobs__RunServer"] = "false";
        using var panel = Process.Start(start) ?? throw new InvalidOperationException("the panel did not start");
        panel.OutputDataReceived += (_, _) => { };
        panel.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("panel: " + e.Data); };
        panel.BeginOutputReadLine();
        panel.BeginErrorReadLine();
        var baseUrl = $"http://127.0.0.1:{port}";
        try
        {
            using (var http = new HttpClient())
            {
                for (var i = 0; ; i++)
                {
                    try
                    {
                        if ((await http.GetAsync(new Uri(baseUrl + "/readyz"))).IsSuccessStatusCode)
                        {
                            break;
                        }
                    }
                    catch (HttpRequestException) when (i < 600)
                    {
                    }

                    if (i >= 600)
                    {
                        throw new TimeoutException("the panel did not get ready");
                    }

                    await Task.Delay(100);
                }
            }

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Environment.GetEnvironmentVariable("PANEL_CHROMIUM") ?? "/usr/bin/chromium",
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
            });
            var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUrl });
            context.SetDefaultTimeout(60_000);
            var first = await context.NewPageAsync();
            await first.GotoAsync("/account/login");
            await first.FillAsync("#email", AdminEmail);
            await first.FillAsync("#password", AdminPassword);
            await first.ClickAsync("[data-testid=login-submit]");
            await first.WaitForSelectorAsync("[data-testid=signed-in-as]");

            // Warm up: the page, its queries and the circuit code are loaded once before measuring.
            await OpenServersAsync(first);
            await first.CloseAsync();
            await Task.Delay(3000);
            var before = WorkingSet(panel.Id);

            var pages = new List<IPage>();
            for (var i = 0; i < Circuits; i++)
            {
                var page = await context.NewPageAsync();
                await OpenServersAsync(page);
                pages.Add(page);
            }

            await Task.Delay(5000);
            var after = WorkingSet(panel.Id);
            foreach (var page in pages)
            {
                await page.CloseAsync();
            }

            return ((after - before) / (double)Circuits, before, after);
        }
        finally
        {
            if (!panel.HasExited)
            {
                panel.Kill(entireProcessTree: true);
                await panel.WaitForExitAsync();
            }
        }
    }

    private static async Task OpenServersAsync(IPage page)
    {
        await page.GotoAsync("/admin/servers");
        await page.WaitForSelectorAsync("[data-testid=page][data-interactive=true]");
        await page.WaitForSelectorAsync("[data-testid=admin-server-link]");
    }

    private static long WorkingSet(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task ExecAsync(string connection, string sql)
    {
        await using var conn = new NpgsqlConnection(connection);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
