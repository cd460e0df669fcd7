using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>
/// A second node as its own process: VPSes land on both nodes, and a node process killed with
/// SIGKILL in the middle of provisioning leaves no VPS stuck and nothing leaked once it is back.
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class CrashTests(NodeHostFixture node)
{
    [Fact]
    public async Task VPSes_land_on_both_nodes_and_a_node_killed_mid_provision_finishes_the_work_after_restart_leaking_nothing()
    {
        node.Require();
        var suffix = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
        await using var second = await NodeProcess.StartAsync(node.Database, "ck" + suffix, EngineFixture.PrivateOptions(suffix));
        await using (var db = node.Database.CreateContext())
        {
            await db.Nodes.Where(n => n.Name == second.Name).ExecuteUpdateAsync(s => s.SetProperty(n => n.CpuOvercommit, 100m).SetProperty(n => n.DiskOvercommit, 100m));
            var row = await db.Nodes.AsNoTracking().SingleAsync(n => n.Name == second.Name);
            row.Images.ShouldContain("busybox");
            row.Drivers.ShouldContain(d => d.Name == "lxc" && d.Usable, string.Join("; ", row.Drivers.Select(d => $"{d.Name} {d.Usable} {d.Reason}")));
            (await db.IpPools.CountAsync(p => p.Family == 4)).ShouldBe(2); // each network its own IPv4 pool
        }

        var customer = await node.NewCustomerAsync();
        var plan = await node.PlanIdAsync();
        var image = await node.ImageIdAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;

        // Two orders: placement spreads them (most free memory first), one on each node.
        var a = await vpses.CreateAsync(customer, new CreateVpsRequest(plan, image, "spread-a.example.com", null, []));
        var b = await vpses.CreateAsync(customer, new CreateVpsRequest(plan, image, "spread-b.example.com", null, []));
        (await node.WaitAsync(a.OperationId, 90)).Status.ShouldBe(OperationStatus.Succeeded);
        (await node.WaitAsync(b.OperationId, 90)).Status.ShouldBe(OperationStatus.Succeeded);
        new[] { (await vpses.GetAsync(customer, a.VpsId)).NodeName, (await vpses.GetAsync(customer, b.VpsId)).NodeName }
            .ShouldBe([node.NodeName, second.Name], ignoreOrder: true);
        foreach (var id in new[] { a.VpsId, b.VpsId })
        {
            (await node.WaitAsync(await vpses.DeleteAsync(customer, id), 60)).Status.ShouldBe(OperationStatus.Succeeded);
        }

        // From here on only the second node takes orders; it is killed at several points of provisioning.
        var nodes = node.Resolve<NodeService>();
        await using (nodes.Scope)
        {
            await nodes.Service.SetMaintenanceAsync(Actor.System, node.NodeName, true);
        }

        var engine = new LxcDriver(second.Engine);
        var created = new List<VpsAccepted>();
        try
        {
            var points = new[] { "accepted", "creating the container", "starting" };
            foreach (var point in points)
            {
                var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(plan, image, $"crash-{created.Count}.example.com", null, []));
                created.Add(accepted);
                if (point != "accepted")
                {
                    await WaitForStepAsync(accepted.OperationId, point);
                }

                await second.CrashAndRestartAsync(node.Database);

                var op = await node.WaitAsync(accepted.OperationId, 120);
                op.Status.ShouldBe(OperationStatus.Succeeded, $"killed at '{point}': {op.Error}");
                var view = await vpses.GetAsync(customer, accepted.VpsId);
                view.Status.ShouldBe(VpsStatus.Running);
                view.NodeName.ShouldBe(second.Name);
                var engineId = (await node.VpsAsync(accepted.VpsId)).EngineId;
                (await engine.GetStateAsync(new StateOptions(engineId))).Status.ShouldBe(InstanceStatus.Running);
                (await engine.ExecAsync(new ExecOptions(engineId, ["hostname"]))).StdOut.Trim().ShouldBe(view.Hostname);
            }

            // Nothing doubled: one guest and one address per VPS.
            var ids = created.Select(c => c.VpsId).ToList();
            await using (var db = node.Database.CreateContext())
            {
                var engineIds = await db.Vpses.Where(v => ids.Contains(v.Id)).Select(v => v.EngineId).ToListAsync();
                (await engine.ListAsync(new ListOptions())).Order().ShouldBe(engineIds.Order());
                (await db.IpAddresses.CountAsync(x => x.VpsId != null && ids.Contains(x.VpsId.Value))).ShouldBe(created.Count);
            }

            // And deleting them leaves nothing on the host: no guest, port, cgroup or mount.
            var guestIds = await engine.ListAsync(new ListOptions());
            foreach (var c in created)
            {
                (await node.WaitAsync(await vpses.DeleteAsync(customer, c.VpsId), 60)).Status.ShouldBe(OperationStatus.Succeeded);
            }

            created.Clear();
            (await engine.ListAsync(new ListOptions())).ShouldBeEmpty();
            var links = (await ProcessRunner.Instance.RunAsync("ip", ["-o", "link", "show"])).StdOut;
            foreach (var id in guestIds)
            {
                links.ShouldNotContain(PortName.For(id));
                Directory.EnumerateDirectories("/sys/fs/cgroup", "*", SearchOption.TopDirectoryOnly)
                    .ShouldAllBe(controller => !Directory.Exists(Path.Combine(controller, "lxc.payload." + id)));
            }

            Panel.Hypervisor.Storage.MountTable.MountsUnder(Path.Combine(second.Engine.StateDirectory, "instances")).ShouldBeEmpty();
        }
        finally
        {
            foreach (var c in created)
            {
                try
                {
                    await node.WaitAsync(await vpses.DeleteAsync(customer, c.VpsId), 60);
                }
                catch (PanelRefusedException)
                {
                    // already deleted or busy: the engine clean-up below removes the guest
                }
            }

            // The second node stops with this test: drain it now, or it would look online (and take
            // orders it can never run) until its last heartbeat is 45 s old.
            var n = node.Resolve<NodeService>();
            await using (n.Scope)
            {
                await n.Service.SetMaintenanceAsync(Actor.System, second.Name, true);
                await n.Service.SetMaintenanceAsync(Actor.System, node.NodeName, false);
            }
        }
    }

    private async Task WaitForStepAsync(long operationId, string step)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            await using var db = node.Database.CreateContext();
            if (await db.OperationEvents.AnyAsync(e => e.OperationId == operationId && e.Message.StartsWith(step)))
            {
                return;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException($"operation {operationId} never reached '{step}'");
    }
}
