using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Panel.Core;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// A real node inside the test process: Panel.Core with its Hangfire server on the node's queue,
/// the node agent's heartbeat, and the engine on a private bridge, subnet and state folder, on the
/// collection's own database. Services resolved from <see cref="Services"/> are the ones pages use,
/// so a create goes through the service, Hangfire and the engine exactly as in production.
/// </summary>
public sealed class NodeHostFixture : IAsyncLifetime
{
    private static readonly string Suffix = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
    private IHost? host;

    /// <summary>The collection's database.</summary>
    public TestDatabase Database { get; } = new();

    /// <summary>The node's engine options.</summary>
    public EngineOptions Engine { get; } = WithIpv6(EngineFixture.PrivateOptions(Suffix));

    /// <summary>The node's options (backups folder, jobs, engine).</summary>
    public PanelOptions Options { get; private set; } = new();

    /// <summary>The node's name (its queue is <c>node-NAME</c>).</summary>
    public string NodeName { get; } = "pt" + Suffix;

    /// <summary>Why the tests cannot run here, or null.</summary>
    public string? Unavailable { get; private set; }

    /// <summary>The node's services.</summary>
    public IServiceProvider Services => host!.Services;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await EngineFixture.SweepEarlierRunsAsync();
        var probe = await new LxcDriver(Engine).ProbeAsync(new ProbeOptions());
        if (!probe.Usable)
        {
            Unavailable = $"the LXC driver cannot run here: {probe.Reason}";
            return;
        }

        await Database.InitializeAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Hangfire", LogLevel.Error);
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        var options = new PanelOptions { Engine = Engine };
        options.Jobs.NodeName = NodeName;
        options.Jobs.HeartbeatSeconds = 1;
        options.Jobs.ReconcileCron = ""; // the reconcile tests run the pass themselves; a minutely one would race them
        options.Jobs.MetricsCron = ""; // likewise the metrics tests, on a clock of their own
        options.Jobs.HostingContentCron = ""; // the hosting tests check the content figures at their own moments
        options.Jobs.WorkerCount = 6;
        options.Backups.KeepPerVps = 2;
        options.Edge.SftpFirstPort = 32201; // the tests' SFTP gateways listen from here (away from a panel running on this machine)
        Options = options;
        builder.Services.AddSingleton(options);
        builder.Services.AddPanelCore(Database.ConnectionString, options);
        host = builder.Build();
        await host.StartAsync();

        await using var scope = Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
        await WaitForNodeAsync();
    }

    /// <summary>The node's guest network has an IPv6 prefix too (a ULA of the run's own).</summary>
    private static EngineOptions WithIpv6(EngineOptions engine)
    {
        engine.BridgeCidr6 = $"fd56:5650:{Suffix[..4]}::1/64";
        return engine;
    }

    /// <summary>Resolves a scoped service in a new scope (dispose the scope).</summary>
    public (AsyncServiceScope Scope, T Service) Resolve<T>()
        where T : notnull
    {
        var scope = Services.CreateAsyncScope();
        return (scope, scope.ServiceProvider.GetRequiredService<T>());
    }

    /// <summary>Skips the calling test when the machine lacks what it needs (saying what).</summary>
    public void Require()
    {
        if (Unavailable is not null)
        {
            Assert.Skip(Unavailable);
        }
    }

    /// <summary>A new customer (its own account), as an actor.</summary>
    public async Task<Actor> NewCustomerAsync()
    {
        var email = "c" + Guid.NewGuid().ToString("N")[..12] + "@test.local";
        var user = await Services.CreateUserAsync(email, "Customer-Passw0rd", Panel.Core.Domain.Accounts.Roles.Customer);
        return new Actor(user.Id, email, IsAdmin: false);
    }

    /// <summary>The seeded plan of an approach (the small one).</summary>
    public async Task<int> PlanIdAsync(VirtualizationKind approach = VirtualizationKind.Container)
    {
        await using var db = Database.CreateContext();
        return await db.Plans.Where(p => p.Approach == approach && p.Active).OrderBy(p => p.MemoryBytes).Select(p => p.Id).FirstAsync();
    }

    /// <summary>The id of an image by engine name.</summary>
    public async Task<int> ImageIdAsync(string name = "busybox")
    {
        await using var db = Database.CreateContext();
        return await db.Images.Where(i => i.Name == name).Select(i => i.Id).FirstAsync();
    }

    /// <summary>Waits until an operation has ended and returns it (fails after the timeout).</summary>
    public async Task<OperationView> WaitAsync(long operationId, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var (scope, vpses) = Resolve<VpsService>();
            await using (scope)
            {
                var op = await vpses.GetOperationAsync(Actor.System, operationId);
                if (op.Status is OperationStatus.Succeeded or OperationStatus.Failed or OperationStatus.Refused)
                {
                    return op;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"operation {operationId} ({op.Kind}) still {op.Status} after {seconds} s at step '{op.Step}'");
                }
            }

            await Task.Delay(100);
        }
    }

    /// <summary>The VPS row as stored.</summary>
    public async Task<Vps> VpsAsync(int id)
    {
        await using var db = Database.CreateContext();
        return await db.Vpses.Include(v => v.Addresses).AsNoTracking().FirstAsync(v => v.Id == id);
    }

    /// <summary>The node's LXC driver (the one its jobs use).</summary>
    public IInstanceDriver Lxc => Services.GetRequiredService<DriverRegistry>().Get("lxc");

    private async Task WaitForNodeAsync()
    {
        for (var i = 0; i < 200; i++)
        {
            await using var db = Database.CreateContext();
            if (await db.Nodes.AnyAsync(n => n.Name == NodeName) && await db.IpPools.AnyAsync())
            {
                // This machine has 2 CPUs: let memory be what tests fill, not the default 4 vCPUs per CPU.
                await db.Nodes.Where(n => n.Name == NodeName).ExecuteUpdateAsync(s => s.SetProperty(n => n.CpuOvercommit, 100m).SetProperty(n => n.DiskOvercommit, 100m));
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"node {NodeName} did not register");
    }

    /// <summary>Removes every guest, the bridge, the nftables table and the state folder of a private engine.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="keepNetwork">Leave the bridge and the nftables table (another node on this machine shares them).</param>
    public static async Task RemoveEngineAsync(EngineOptions engine, bool keepNetwork = false)
    {
        if (Directory.Exists(engine.StateDirectory))
        {
            var lxc = new LxcDriver(engine);
            foreach (var driver in new IInstanceDriver[] { lxc, new Panel.Hypervisor.Drivers.Uml.UmlDriver(engine), new Panel.Hypervisor.Drivers.Qemu.QemuDriver(engine) })
            {
                foreach (var id in await driver.ListAsync(new ListOptions()))
                {
                    try
                    {
                        await driver.DeleteAsync(new DeleteOptions(id, Force: true));
                    }
                    catch (EngineException)
                    {
                        // keep cleaning the rest
                    }
                }
            }

            await lxc.DiskPool.IdleAsync();
        }

        var runner = ProcessRunner.Instance;
        if (!keepNetwork)
        {
            await new AntiSpoofRules(engine.NftTable, runner).DeleteTableAsync();
            await new NodeBridge(engine.BridgeName, new GuestNetwork(engine.BridgeCidr), runner).DeleteAsync();
        }

        if (Directory.Exists(engine.StateDirectory) && Panel.Hypervisor.Storage.MountTable.MountsUnder(engine.StateDirectory).Count == 0)
        {
            Directory.Delete(engine.StateDirectory, recursive: true);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (host is not null)
        {
            var nodeLxc = (LxcDriver)Lxc;
            await host.StopAsync(TimeSpan.FromSeconds(15));
            await nodeLxc.DiskPool.IdleAsync();
            host.Dispose();
        }

        await RemoveEngineAsync(Engine);

        if (Database.ConnectionString.Length > 0)
        {
            await Database.DisposeAsync();
        }
    }
}

/// <summary>Provisioning tests: one in-process node and database, one test after another.</summary>
[CollectionDefinition(Name)]
public sealed class ProvisioningCollection : ICollectionFixture<NodeHostFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "provisioning";
}
