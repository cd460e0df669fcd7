using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>
/// Cold migration between two node agents on one guest network (as <c>./panel node --shared-network</c>
/// runs them): the in-process node and a second node process with its own state folder on the same
/// bridge, sharing the backups folder.
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class MigrationTests(NodeHostFixture node)
{
    [Fact]
    public async Task A_VPS_moves_to_the_other_node_with_its_address_and_data_and_runs_there()
    {
        node.Require();
        var suffix = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
        var engine = EngineFixture.PrivateOptions(suffix);
        engine.BridgeName = node.Engine.BridgeName;
        engine.BridgeCidr = node.Engine.BridgeCidr;
        engine.BridgeCidr6 = node.Engine.BridgeCidr6;
        engine.NftTable = node.Engine.NftTable;
        var backups = node.Options.Backups.Directory ?? node.Engine.BackupsDirectory;
        var second = await NodeProcess.StartAsync(node.Database, "mg" + suffix, engine, backups);
        var there = new LxcDriver(engine);
        var customer = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        int? vpsId = null;
        try
        {
            int target;
            await using (var db = node.Database.CreateContext())
            {
                await db.Nodes.Where(n => n.Name == second.Name).ExecuteUpdateAsync(s => s.SetProperty(n => n.CpuOvercommit, 100m).SetProperty(n => n.DiskOvercommit, 100m));
                target = await db.Nodes.Where(n => n.Name == second.Name).Select(n => n.Id).SingleAsync();
            }

            // An order while the second node is drained lands on the first.
            await SetMaintenanceAsync(second.Name, true);
            var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "mover.example.com", null, []));
            vpsId = accepted.VpsId;
            (await node.WaitAsync(accepted.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
            var before = await vpses.GetAsync(customer, accepted.VpsId);
            before.NodeName.ShouldBe(node.NodeName);
            var engineId = (await node.VpsAsync(accepted.VpsId)).EngineId;
            await node.Lxc.ExecAsync(new ExecOptions(engineId, ["sh", "-c", "echo moved-data > /root/marker"]));

            // Customers cannot move servers; a drained node, or the node it is on, is refused with a reason.
            await Should.ThrowAsync<UnauthorizedAccessException>(() => vpses.MigrateAsync(customer, accepted.VpsId, target));
            (await Should.ThrowAsync<PanelRefusedException>(() => vpses.MigrateAsync(Actor.System, accepted.VpsId, target))).Message.ShouldContain("maintenance");
            var here = (await node.VpsAsync(accepted.VpsId)).NodeId!.Value;
            (await Should.ThrowAsync<PanelRefusedException>(() => vpses.MigrateAsync(Actor.System, accepted.VpsId, here))).Message.ShouldContain("already on node");
            await SetMaintenanceAsync(second.Name, false);

            var moved = await node.WaitAsync(await vpses.MigrateAsync(Actor.System, accepted.VpsId, target), 180);
            moved.Status.ShouldBe(OperationStatus.Succeeded, moved.Error);
            moved.Events.Select(e => e.Message).ShouldContain($"continues on node {second.Name}");
            moved.Events.Select(e => e.Message).ShouldContain($"continues on node {node.NodeName}");

            // It runs on the second node with the same address, MAC and data; the first node has nothing left.
            var after = await vpses.GetAsync(customer, accepted.VpsId);
            after.NodeName.ShouldBe(second.Name);
            after.Status.ShouldBe(VpsStatus.Running);
            after.Addresses.ShouldBe(before.Addresses);
            (await there.GetStateAsync(new StateOptions(engineId))).Status.ShouldBe(InstanceStatus.Running);
            (await there.ExecAsync(new ExecOptions(engineId, ["cat", "/root/marker"]))).StdOut.Trim().ShouldBe("moved-data");
            (await there.ExecAsync(new ExecOptions(engineId, ["hostname"]))).StdOut.Trim().ShouldBe("mover.example.com");
            var ping = await there.ExecAsync(new ExecOptions(engineId, ["ping", "-c", "1", "-W", "2", node.Engine.BridgeCidr.Split('/')[0]]));
            ping.ExitCode.ShouldBe(0, ping.StdOut + ping.StdErr);
            (await node.Lxc.ListAsync(new ListOptions())).ShouldNotContain(engineId);
            Directory.EnumerateDirectories(backups, "op-*", SearchOption.AllDirectories).ShouldBeEmpty();
            await using (var db = node.Database.CreateContext())
            {
                var row = await db.Vpses.AsNoTracking().SingleAsync(v => v.Id == accepted.VpsId);
                row.MigrationTargetNodeId.ShouldBeNull();
                row.BusyOperationId.ShouldBeNull();
            }

            // Power operations now run on the second node's queue.
            (await node.WaitAsync(await vpses.RebootAsync(customer, accepted.VpsId), 90)).Status.ShouldBe(OperationStatus.Succeeded);
            (await node.WaitAsync(await vpses.DeleteAsync(customer, accepted.VpsId), 90)).Status.ShouldBe(OperationStatus.Succeeded);
            vpsId = null;
            (await there.ListAsync(new ListOptions())).ShouldBeEmpty();
        }
        finally
        {
            if (vpsId is { } left)
            {
                try
                {
                    await node.WaitAsync(await vpses.DeleteAsync(Actor.System, left), 90);
                }
                catch (Exception ex) when (ex is PanelRefusedException or TimeoutException)
                {
                    // the engine clean-up below removes the guest
                }
            }

            await second.DisposeAsync(); // drains it and removes its guests and state, leaving the shared bridge and table
            await scope.DisposeAsync();
        }
    }

    private async Task SetMaintenanceAsync(string name, bool on)
    {
        var (scope, nodes) = node.Resolve<NodeService>();
        await using (scope)
        {
            await nodes.SetMaintenanceAsync(Actor.System, name, on);
        }
    }
}
