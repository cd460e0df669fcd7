using System.Diagnostics;
using System.Globalization;
using Hangfire;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Panel.Core;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Operations;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;

namespace Panel.Bench;

/// <summary>
/// Provisioning end to end, in one process on a scratch database: the time from
/// <see cref="VpsService.CreateAsync"/> to the operation's success (a running container with its
/// address), beside the engine alone doing the same create+start (the work without the panel);
/// 50 orders at once; and Hangfire's own enqueue-to-start latency for an empty job.
/// </summary>
public static class ProvisionBench
{
    /// <summary>Runs the suite.</summary>
    public static async Task<BenchReport> RunAsync(BenchOptions bench)
    {
        var admin = Environment.GetEnvironmentVariable("PANEL_BENCH_PG")
            ?? throw new InvalidOperationException("PANEL_BENCH_PG is not set: run ./panel bench provision");
        var suffix = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
        var database = "panel_bench_" + suffix;
        await ExecAsync(admin, $"CREATE DATABASE \"{database}\"");
        var connection = new NpgsqlConnectionStringBuilder(admin) { Database = database, MaxPoolSize = 60 }.ConnectionString;
        var engine = new EngineOptions
        {
            StateDirectory = Path.Combine(Path.GetTempPath(), "vpspanel-bench-" + suffix),
            ImagesDirectory = Path.Combine(Environment.GetEnvironmentVariable("PANEL_STATE_DIR") ?? "/var/lib/vpspanel", "images"),
            BridgeName = "vpsb" + suffix,
            BridgeCidr = "10.252.4.1/22",
            NftTable = "vpspanel_b" + suffix,
        };
        var rows = new List<BenchRow>();
        var figures = new Dictionary<string, double>();
        IHost? host = null;
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
            options.Jobs.WorkerCount = 8;
            builder.Services.AddSingleton(options);
            builder.Services.AddPanelCore(connection, options);
            host = builder.Build();
            await host.StartAsync();
            var sp = host.Services;
            await using (var scope = sp.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
            }

            await WaitForNodeAsync(migrate.Options, options.Jobs.NodeName);
            await using (var db = new PanelDbContext(migrate.Options))
            {
                // Benchmarks fill a node past the default 4 vCPUs per CPU of this small machine.
                await db.Nodes.ExecuteUpdateAsync(s => s.SetProperty(n => n.CpuOvercommit, 100m).SetProperty(n => n.DiskOvercommit, 100m).SetProperty(n => n.MemoryOvercommit, 10m));
            }

            var customer = await NewCustomerAsync(sp);
            int planId, imageId;
            await using (var db = new PanelDbContext(migrate.Options))
            {
                planId = await db.Plans.Where(p => p.Name == "Container S").Select(p => p.Id).SingleAsync();
                imageId = await db.Images.Where(i => i.Name == "busybox").Select(i => i.Id).SingleAsync();
            }

            var driver = (LxcDriver)sp.GetRequiredService<DriverRegistry>().Get("lxc");
            driver.DiskPool.Refill(5L << 30);
            await Task.Delay(3000);

            // 1. One order at a time: create call to Running.
            var panel = new List<double>();
            var created = new List<int>();
            for (var i = 0; i < bench.Iterations; i++)
            {
                var sw = Stopwatch.StartNew();
                var accepted = await VpsAsync(sp, s => s.CreateAsync(customer, new CreateVpsRequest(planId, imageId, $"seq{i}.bench.example", null, [])));
                await WaitAsync(sp, accepted.OperationId);
                panel.Add(sw.Elapsed.TotalMilliseconds);
                created.Add(accepted.VpsId);
                await Task.Delay(300); // the disk pool refills between orders, as between customers
            }

            // The same work through the engine alone (same driver, disk size, image, network).
            var peer = new List<double>();
            var network = new GuestNetwork(engine.BridgeCidr);
            for (var i = 0; i < bench.Iterations; i++)
            {
                var id = "raw" + i.ToString(CultureInfo.InvariantCulture);
                var spec = new InstanceSpec(id, $"raw{i}.bench.example", "busybox", new InstanceLimits(1, 512L << 20, 5L << 30, 512, PortSpeedMbit: 100),
                    new NetworkSpec(VpsService.MacFor(id), $"10.252.7.{200 + i}"), GuestAccess.None);
                var sw = Stopwatch.StartNew();
                await driver.CreateAsync(new CreateOptions(spec));
                await driver.StartAsync(new StartOptions(id));
                peer.Add(sw.Elapsed.TotalMilliseconds);
                await Task.Delay(300);
            }

            _ = network;
            rows.Add(new BenchRow("order to running (container)", "ms", Stats.Of(panel), Stats.Of(peer), "engine create+start alone (same driver, no panel)", null));

            // 2. 50 orders at once.
            var burst = Stopwatch.StartNew();
            var accepts = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => VpsAsync(sp, s => s.CreateAsync(customer, new CreateVpsRequest(planId, imageId, $"burst{i}.bench.example", null, [])))));
            figures["burst50.accept_all_ms"] = Math.Round(burst.Elapsed.TotalMilliseconds, 1);
            foreach (var a in accepts)
            {
                await WaitAsync(sp, a.OperationId, 300);
            }

            figures["burst50.all_running_ms"] = Math.Round(burst.Elapsed.TotalMilliseconds, 1);
            figures["burst50.ms_per_vps"] = Math.Round(burst.Elapsed.TotalMilliseconds / 50, 1);
            created.AddRange(accepts.Select(a => a.VpsId));

            // 3. Hangfire's own latency: enqueue an empty job on the node's queue, time until it runs.
            var latency = new List<double>();
            var client = sp.GetRequiredService<IBackgroundJobClient>();
            for (var i = 0; i < bench.Iterations; i++)
            {
                var started = Stopwatch.GetTimestamp();
                NoopJob.Ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                client.Create(Hangfire.Common.Job.FromExpression(() => NoopJob.Run()), new Hangfire.States.EnqueuedState(Panel.Core.Jobs.JobsServiceCollectionExtensions.NodeQueue(options.Jobs.NodeName)));
                await NoopJob.Ran.Task.WaitAsync(TimeSpan.FromSeconds(30));
                latency.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            rows.Add(new BenchRow("hangfire enqueue to start", "ms", Stats.Of(latency), null, null, null));
            figures["goal.order_to_running_median_ms"] = 1000;

            // Clean up through the panel.
            foreach (var id in created)
            {
                var op = await VpsAsync(sp, s => s.DeleteAsync(customer, id));
                await WaitAsync(sp, op, 120);
            }

            for (var i = 0; i < bench.Iterations; i++)
            {
                await driver.DeleteAsync(new DeleteOptions("raw" + i.ToString(CultureInfo.InvariantCulture), Force: true));
            }
        }
        finally
        {
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
            await runner.RunAsync("rm", ["-rf", "--one-file-system", engine.StateDirectory]);
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
            "order to running: VpsService.CreateAsync (validation, placement under node locks, address, operation) + Hangfire dispatch to the node queue + the provision job (engine create + start) + the operation recorded as succeeded, timed by polling the operation every 10 ms",
            "the peer is the same LXC driver's create+start called directly: the ratio is the panel's own overhead",
            "burst: 50 orders at once from one customer, 8 Hangfire workers on 2 CPUs; all_running_ms is until the last one runs",
            "goal: order-to-running median under 1000 ms on this machine",
        ];
        return new BenchReport("provision", DateTime.UtcNow, machine, rows, figures, notes);
    }

    internal static async Task<T> VpsAsync<T>(IServiceProvider sp, Func<VpsService, Task<T>> call)
    {
        await using var scope = sp.CreateAsyncScope();
        return await call(scope.ServiceProvider.GetRequiredService<VpsService>());
    }

    internal static async Task WaitAsync(IServiceProvider sp, long operationId, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var op = await VpsAsync(sp, s => s.GetOperationAsync(Actor.System, operationId));
            if (op.Status == OperationStatus.Succeeded)
            {
                return;
            }

            if (op.Status is OperationStatus.Failed or OperationStatus.Refused || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"operation {operationId}: {op.Status} {op.Error}");
            }

            await Task.Delay(10);
        }
    }

    internal static async Task<Actor> NewCustomerAsync(IServiceProvider sp)
    {
        await using var scope = sp.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.RoleManager<Microsoft.AspNetCore.Identity.IdentityRole<Guid>>>();
        if (!await roles.RoleExistsAsync(Roles.Customer))
        {
            await roles.CreateAsync(new Microsoft.AspNetCore.Identity.IdentityRole<Guid>(Roles.Customer));
        }

        var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<PanelUser>>();
        var user = new PanelUser { UserName = "bench@bench.local", Email = "bench@bench.local", DisplayName = "bench", CreatedAt = DateTime.UtcNow };
        await users.CreateAsync(user, "Bench-Passw0rd");
        await users.AddToRoleAsync(user, Roles.Customer);
        return new Actor(user.Id, user.Email, IsAdmin: false);
    }

    internal static async Task WaitForNodeAsync(DbContextOptions<PanelDbContext> options, string node)
    {
        for (var i = 0; i < 300; i++)
        {
            await using var db = new PanelDbContext(options);
            if (await db.Nodes.AnyAsync(n => n.Name == node) && await db.IpPools.AnyAsync())
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the bench node did not register");
    }

    internal static async Task ExecAsync(string connection, string sql)
    {
        await using var conn = new NpgsqlConnection(connection);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>An empty job for Hangfire's own latency.</summary>
public sealed class NoopJob
{
    /// <summary>Completed when the job runs.</summary>
    public static TaskCompletionSource Ran { get; set; } = new();

    /// <summary>Does nothing but say so.</summary>
    public static void Run() => Ran.TrySetResult();
}
