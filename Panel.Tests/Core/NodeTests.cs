using Microsoft.EntityFrameworkCore;
using Panel.Core;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Nodes;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core;

/// <summary>Nodes register themselves and report a heartbeat; admins see them and can drain them.</summary>
public sealed class NodeTests(PanelFixture fixture) : PanelTest(fixture)
{
    private static readonly Actor Admin = new(Guid.NewGuid(), "admin@test.local", IsAdmin: true);

    [Fact]
    public async Task Heartbeat_RegistersTheNodeOnce_WithHostFactsAndDrivers_ThenUpdatesIt()
    {
        var agent = NewAgent("Node 7");

        await agent.HeartbeatAsync(refreshProbes: true, TestContext.Current.CancellationToken);
        await using (var db = Fixture.Database.CreateContext())
        {
            var node = await db.Nodes.SingleAsync(n => n.Name == "node_7", TestContext.Current.CancellationToken);
            node.CpuCount.ShouldBe(Environment.ProcessorCount);
            node.MemoryBytes.ShouldBeGreaterThan(0);
            node.DiskBytes.ShouldBeGreaterThan(0);
            node.Drivers.ShouldContain(d => d.Name == "lxc");
            node.IsOnline(DateTime.UtcNow).ShouldBeTrue();
        }

        var first = await LastHeartbeatAsync("node_7");
        await Task.Delay(20, TestContext.Current.CancellationToken);
        await agent.HeartbeatAsync(refreshProbes: false, TestContext.Current.CancellationToken);

        (await LastHeartbeatAsync("node_7")).ShouldBeGreaterThan(first);
        await using var check = Fixture.Database.CreateContext();
        (await check.Nodes.CountAsync(n => n.Name == "node_7", TestContext.Current.CancellationToken)).ShouldBe(1);
    }

    [Fact]
    public async Task TheRunningPanel_RegistersAsANode_AndShowsOnline()
    {
        // The fixture's panel process serves queue node-test; its agent reports every second in tests.
        var node = await WaitForNodeAsync("test");

        node.ShouldNotBeNull("the panel process registers itself within its first heartbeat (the reset may have removed an earlier row)");
        node.Online.ShouldBeTrue();
    }

    [Fact]
    public async Task ASecondNodeAgentProcess_RegistersItselfBesideThePanel()
    {
        var state = Path.Combine(Path.GetTempPath(), "vpspanel-node2-" + Guid.NewGuid().ToString("N")[..6]);
        await using var node = await PanelProcess.StartAsync(
            Fixture.Database.ConnectionString,
            new Dictionary<string, string?>
            {
                ["Panel__Jobs__NodeName"] = "node2",
                ["Panel__Engine__StateDirectory"] = state,
                ["Panel__Engine__BridgeName"] = "vpsbrn2test",
                ["Panel__Engine__BridgeCidr"] = "10.253.2.1/24",
            },
            waitUntilServing: false,
            arguments: ["--node"]);

        var view = await WaitForNodeAsync("node2", () => node.HasExited);

        view.ShouldNotBeNull(node.Output);
        view.Online.ShouldBeTrue();
        view.Drivers.ShouldContain(d => d.Name == "lxc");
        node.Output.ShouldContain("serving queue node-node2");
        await node.StopAsync();
        node.HasExited.ShouldBeTrue();
    }

    [Fact]
    public void IsOnline_TurnsFalse_AfterMissedHeartbeats()
    {
        var now = DateTime.UtcNow;
        new Node { LastHeartbeatAt = now.AddSeconds(-10) }.IsOnline(now).ShouldBeTrue();
        new Node { LastHeartbeatAt = now - Node.OfflineAfter - TimeSpan.FromSeconds(1) }.IsOnline(now).ShouldBeFalse();
    }

    [Fact]
    public async Task Maintenance_IsForAdminsOnly_AndAudited()
    {
        await NewAgent("drain-me").HeartbeatAsync(false, TestContext.Current.CancellationToken);
        var (scope, nodes) = Fixture.Resolve<NodeService>();
        await using (scope)
        {
            await Should.ThrowAsync<UnauthorizedAccessException>(() => nodes.SetMaintenanceAsync(new Actor(Guid.NewGuid(), "c@example.com", false), "drain-me", true));
            await Should.ThrowAsync<UnauthorizedAccessException>(() => nodes.ListAsync(new Actor(Guid.NewGuid(), "c@example.com", false)));

            await nodes.SetMaintenanceAsync(Admin, "drain-me", true);

            (await nodes.ListAsync(Admin)).Single(n => n.Name == "drain-me").Maintenance.ShouldBeTrue();
            await Should.ThrowAsync<KeyNotFoundException>(() => nodes.SetMaintenanceAsync(Admin, "no-such-node", true));
        }

        await using var db = Fixture.Database.CreateContext();
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.NodeMaintenance && e.Target == "node:drain-me")).ShouldBe(1);
    }

    [Fact]
    public async Task Stopping_while_a_heartbeat_is_in_flight_ends_the_agent_quietly()
    {
        // The host stops its hosted services also when its start fails (its port is taken), maybe before the first
        // heartbeat ran or while it is in a query: the agent must end, not fault or cancel (either is a critical
        // log line with a stack trace). Stop it at many points of its first heartbeat, from before it ran at all.
        for (var delayMs = 0; delayMs <= 60; delayMs += 5)
        {
            var agent = NewAgent("stop-mid-beat", reconcileServices: new ServiceCollection().BuildServiceProvider().GetRequiredService<IServiceScopeFactory>());
            await agent.StartAsync(CancellationToken.None);
            await Task.Delay(delayMs, TestContext.Current.CancellationToken);
            await agent.StopAsync(CancellationToken.None);

            var run = agent.Loop.ShouldNotBeNull();
            run.IsCompleted.ShouldBeTrue($"stopped after {delayMs} ms");
            run.Status.ShouldBe(TaskStatus.RanToCompletion, $"stopped after {delayMs} ms: {run.Exception?.GetBaseException().Message}");
            agent.Dispose();
        }
    }

    /// <summary>Polls the node list (up to 30 s) until <paramref name="name"/> appears; null if it never does or <paramref name="gaveUp"/> says stop.</summary>
    private async Task<NodeView?> WaitForNodeAsync(string name, Func<bool>? gaveUp = null)
    {
        for (var i = 0; i < 150 && gaveUp?.Invoke() != true; i++)
        {
            var (scope, nodes) = Fixture.Resolve<NodeService>();
            await using (scope)
            {
                var view = (await nodes.ListAsync(Admin, TestContext.Current.CancellationToken)).SingleOrDefault(n => n.Name == name);
                if (view is not null)
                {
                    return view;
                }
            }

            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        return null;
    }

    /// <param name="name">The node's configured name.</param>
    /// <param name="reconcileServices">Where the reconciliation at start resolves its job (the fixture's by default).</param>
    private NodeAgent NewAgent(string name, IServiceScopeFactory? reconcileServices = null)
    {
        var options = new PanelOptions { Jobs = { NodeName = name, RunServer = false } };
        return new NodeAgent(
            Fixture.Services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<Panel.Core.Persistence.PanelDbContext>>(),
            Fixture.Services.GetRequiredService<DriverRegistry>(),
            Fixture.Services.GetRequiredService<IpPoolService>(),
            reconcileServices ?? Fixture.Services.GetRequiredService<IServiceScopeFactory>(),
            options,
            TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<NodeAgent>.Instance);
    }

    private async Task<DateTime> LastHeartbeatAsync(string name)
    {
        await using var db = Fixture.Database.CreateContext();
        return await db.Nodes.Where(n => n.Name == name).Select(n => n.LastHeartbeatAt).SingleAsync();
    }
}
