using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Jobs.Vps;
using Panel.Core.Services;
using Microsoft.Extensions.DependencyInjection;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>Requests through the service layer, jobs on the node's Hangfire queue, real containers.</summary>
[Collection(ProvisioningCollection.Name)]
public sealed class ProvisioningTests(NodeHostFixture node)
{
    [Fact]
    public async Task A_VPS_is_created_through_the_service_and_runs_with_its_address_every_step_logged()
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;

        var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "Web1.Example.com", "Root-Passw0rd!", []));
        var op = await node.WaitAsync(accepted.OperationId);

        op.Status.ShouldBe(OperationStatus.Succeeded, op.Error);
        op.Progress.ShouldBe(100);
        var steps = op.Events.Select(e => e.Message).ToList();
        steps[0].ShouldStartWith("accepted: Container S, BusyBox");
        steps.ShouldContain("started");
        steps.ShouldContain(s => s.StartsWith("creating the container", StringComparison.Ordinal));
        steps.ShouldContain("starting");
        steps[^1].ShouldStartWith("running at 10.251.");

        var view = await vpses.GetAsync(customer, accepted.VpsId);
        view.Status.ShouldBe(VpsStatus.Running);
        view.Hostname.ShouldBe("web1.example.com");
        view.NodeName.ShouldBe(node.NodeName);
        view.BusyOperationId.ShouldBeNull();
        // An IPv4 address from the pool and an IPv6 one from the node's prefix (the fixture's network has both).
        view.Addresses.Count.ShouldBe(2);
        steps[^1].ShouldBe($"running at {view.Addresses[0]}");
        var (gateway6, prefix6) = Panel.Core.Services.IpPoolService.ParseBridge6(node.Engine.BridgeCidr6!);
        prefix6.Contains(System.Net.IPAddress.Parse(view.Addresses[1])).ShouldBeTrue(view.Addresses[1]);

        // The guest really runs there, with that name and address.
        var row = await node.VpsAsync(accepted.VpsId);
        (await node.Lxc.GetStateAsync(new StateOptions(row.EngineId))).Status.ShouldBe(InstanceStatus.Running);
        (await node.Lxc.ExecAsync(new ExecOptions(row.EngineId, ["hostname"]))).StdOut.Trim().ShouldBe("web1.example.com");
        (await node.Lxc.ExecAsync(new ExecOptions(row.EngineId, ["ip", "-4", "addr", "show", "eth0"]))).StdOut.ShouldContain(view.Addresses[0] + "/");
        (await node.Lxc.ExecAsync(new ExecOptions(row.EngineId, ["ip", "-6", "addr", "show", "eth0"]))).StdOut.ShouldContain(view.Addresses[1] + "/64");
        // The guest's own duplicate-address detection holds a new address back for about a second.
        var ping6 = await node.Lxc.ExecAsync(new ExecOptions(row.EngineId, ["sh", "-c", $"for i in 1 2 3 4 5 6; do ping -c 1 -W 1 {gateway6} && exit 0; done; ip -6 addr; exit 1"]));
        ping6.ExitCode.ShouldBe(0, ping6.StdOut + ping6.StdErr);

        // The provision parameters (the password hash) are gone once it is done.
        await using (var db = node.Database.CreateContext())
        {
            (await db.Operations.Where(o => o.Id == accepted.OperationId).Select(o => o.Parameters).FirstAsync()).ShouldBeNull();
        }

        // Power operations.
        (await node.WaitAsync(await vpses.StopAsync(customer, accepted.VpsId))).Status.ShouldBe(OperationStatus.Succeeded);
        (await vpses.GetAsync(customer, accepted.VpsId)).Status.ShouldBe(VpsStatus.Stopped);
        (await node.Lxc.GetStateAsync(new StateOptions(row.EngineId))).Status.ShouldBe(InstanceStatus.Stopped);
        (await node.WaitAsync(await vpses.StartAsync(customer, accepted.VpsId))).Status.ShouldBe(OperationStatus.Succeeded);
        (await node.WaitAsync(await vpses.RebootAsync(customer, accepted.VpsId))).Status.ShouldBe(OperationStatus.Succeeded);
        (await vpses.GetAsync(customer, accepted.VpsId)).Status.ShouldBe(VpsStatus.Running);

        // Delete frees the address and the guest.
        (await node.WaitAsync(await vpses.DeleteAsync(customer, accepted.VpsId))).Status.ShouldBe(OperationStatus.Succeeded);
        var deleted = await node.VpsAsync(accepted.VpsId);
        deleted.Status.ShouldBe(VpsStatus.Deleted);
        deleted.NodeId.ShouldBeNull();
        deleted.Addresses.ShouldBeEmpty();
        (await node.Lxc.ListAsync(new ListOptions())).ShouldNotContain(row.EngineId);
        (await vpses.ListAsync(customer)).ShouldBeEmpty();
        (await vpses.OperationsAsync(customer, accepted.VpsId)).Select(o => o.Kind)
            .ShouldBe([OperationKind.Delete, OperationKind.Reboot, OperationKind.Start, OperationKind.Stop, OperationKind.Provision]);
    }

    [Theory]
    [InlineData(VirtualizationKind.ParaVirtual, "uml")]
    [InlineData(VirtualizationKind.FullVm, "qemu")]
    public async Task Para_virtual_and_full_VM_plans_provision_through_the_same_path(VirtualizationKind approach, string driverName)
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(approach), await node.ImageIdAsync(), $"{driverName}.example.com", "Root-Passw0rd!", []));
        var op = await node.WaitAsync(accepted.OperationId, 120);
        op.Status.ShouldBe(OperationStatus.Succeeded, op.Error);

        var view = await vpses.GetAsync(customer, accepted.VpsId);
        view.Status.ShouldBe(VpsStatus.Running);
        view.Approach.ShouldBe(approach);
        var driver = node.Services.GetRequiredService<DriverRegistry>().Get(driverName);
        var engineId = (await node.VpsAsync(accepted.VpsId)).EngineId;
        (await driver.ExecAsync(new ExecOptions(engineId, ["hostname"]))).StdOut.Trim().ShouldBe($"{driverName}.example.com");
        (await driver.ExecAsync(new ExecOptions(engineId, ["sh", "-c", "ip -4 addr show | grep -c " + view.Addresses[0] + "/"]))).StdOut.Trim().ShouldBe("1");

        (await node.WaitAsync(await vpses.DeleteAsync(customer, accepted.VpsId), 90)).Status.ShouldBe(OperationStatus.Succeeded);
        (await driver.ListAsync(new ListOptions())).ShouldNotContain(engineId);
    }

    [Fact]
    public async Task Bad_requests_are_refused_with_a_reason_recorded_and_nothing_allocated()
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var plan = await node.PlanIdAsync();
        var image = await node.ImageIdAsync();
        var before = await AllocatedAsync();

        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.CreateAsync(customer, new CreateVpsRequest(plan, image, "bad_host!", null, []))))
            .Field.ShouldBe("Hostname");
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.CreateAsync(customer, new CreateVpsRequest(plan, image, "ok.example.com", "short", []))))
            .Field.ShouldBe("RootPassword");
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.CreateAsync(customer, new CreateVpsRequest(plan, image, "ok.example.com", null, ["ssh-rsa nonsense"]))))
            .Field.ShouldStartWith("SshKeys");
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.CreateAsync(customer, new CreateVpsRequest(999_999, image, "ok.example.com", null, []))))
            .Field.ShouldBe("PlanId");

        // A host name the customer already uses.
        var first = await vpses.CreateAsync(customer, new CreateVpsRequest(plan, image, "dup.example.com", null, []));
        var dup = await Should.ThrowAsync<PanelRefusedException>(() => vpses.CreateAsync(customer, new CreateVpsRequest(plan, image, "DUP.example.com", null, [])));
        dup.Message.ShouldContain("already have a server called dup.example.com");

        // Busy: an operation while provisioning runs (or right after, already running: then a start is refused as running).
        var busy = await Should.ThrowAsync<PanelRefusedException>(() => vpses.StartAsync(customer, first.VpsId));
        busy.Message.ShouldMatch("busy \\(provision in progress\\)|already running");
        (await node.WaitAsync(first.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.StartAsync(customer, first.VpsId))).Message.ShouldContain("already running");

        // Another customer cannot see or touch it: "not found", as if it did not exist.
        var other = await node.NewCustomerAsync();
        await Should.ThrowAsync<PanelNotFoundException>(() => vpses.GetAsync(other, first.VpsId));
        await Should.ThrowAsync<PanelNotFoundException>(() => vpses.StopAsync(other, first.VpsId));
        await Should.ThrowAsync<PanelNotFoundException>(() => vpses.OperationsAsync(other, first.VpsId));
        await Should.ThrowAsync<PanelNotFoundException>(() => vpses.GetOperationAsync(other, first.OperationId));

        // Every refusal is in the operation log with its reason; only the accepted VPS holds an address.
        await using (var db = node.Database.CreateContext())
        {
            var refused = await db.Operations.Where(o => o.OwnerId == customer.UserId && o.Status == OperationStatus.Refused).ToListAsync();
            refused.Count.ShouldBe(7);
            refused.ShouldAllBe(o => o.Error != null && o.Error.Length > 0);
        }

        (await AllocatedAsync()).ShouldBe(before + 2); // the one accepted order: an IPv4 and an IPv6 address
        (await node.WaitAsync(await vpses.DeleteAsync(customer, first.VpsId))).Status.ShouldBe(OperationStatus.Succeeded);
    }

    [Fact]
    public async Task Maintenance_or_an_exhausted_pool_refuses_an_order_and_allocates_nothing()
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var request = new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "m.example.com", null, []);

        var (nodeScope, nodes) = node.Resolve<NodeService>();
        await using (nodeScope)
        {
            await nodes.SetMaintenanceAsync(Actor.System, node.NodeName, true);
            try
            {
                (await Should.ThrowAsync<PanelRefusedException>(() => vpses.CreateAsync(customer, request))).Message.ShouldContain($"{node.NodeName} is in maintenance");
            }
            finally
            {
                await nodes.SetMaintenanceAsync(Actor.System, node.NodeName, false);
            }
        }

        await using var db = node.Database.CreateContext();
        var free = await db.IpAddresses.Where(a => a.VpsId == null).ToListAsync();
        db.IpAddresses.RemoveRange(free);
        await db.SaveChangesAsync();
        try
        {
            (await Should.ThrowAsync<PanelRefusedException>(() => vpses.CreateAsync(customer, request))).Message.ShouldContain("IP pools are exhausted");
            (await db.Vpses.CountAsync(v => v.OwnerId == customer.UserId)).ShouldBe(0);
        }
        finally
        {
            db.ChangeTracker.Clear();
            db.IpAddresses.AddRange(free.Select(a => new Panel.Core.Domain.Networking.IpAddress { PoolId = a.PoolId, Address = a.Address }));
            await db.SaveChangesAsync();
        }
    }

    [Fact]
    public async Task Fifty_concurrent_orders_get_distinct_addresses_and_never_overfill_the_node()
    {
        node.Require();
        var plan = await node.PlanIdAsync();
        var image = await node.ImageIdAsync();
        const int Room = 12;
        await using (var db = node.Database.CreateContext())
        {
            // Leave room for exactly 12 more of the plan's memory on the node.
            var n = await db.Nodes.SingleAsync(x => x.Name == node.NodeName);
            var used = await db.Vpses.Where(v => v.NodeId == n.Id && v.Status != VpsStatus.Deleted).SumAsync(v => (long?)v.MemoryBytes) ?? 0;
            var planMemory = await db.Plans.Where(p => p.Id == plan).Select(p => p.MemoryBytes).SingleAsync();
            n.MemoryOvercommit = Math.Round((decimal)(used + (Room * planMemory) + (planMemory / 2)) / n.MemoryBytes, 4);
            await db.SaveChangesAsync();
        }

        var customers = new List<Actor>();
        var accepted = new List<VpsAccepted>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                customers.Add(await node.NewCustomerAsync());
            }

            var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
            {
                var (scope, vpses) = node.Resolve<VpsService>();
                await using var _ = scope;
                try
                {
                    return (Accepted: await vpses.CreateAsync(customers[i % 5], new CreateVpsRequest(plan, image, $"c{i}.example.com", null, [])), Refusal: (string?)null);
                }
                catch (PanelRefusedException ex)
                {
                    return (Accepted: (VpsAccepted?)null, Refusal: ex.Message);
                }
            }));

            accepted = results.Where(r => r.Accepted is not null).Select(r => r.Accepted!).ToList();
            accepted.Count.ShouldBe(Room);
            results.Where(r => r.Refusal is not null).ShouldAllBe(r => r.Refusal!.Contains("is full"));

            var ops = new List<OperationView>();
            foreach (var a in accepted)
            {
                ops.Add(await node.WaitAsync(a.OperationId, 120));
            }

            ops.ShouldAllBe(o => o.Status == OperationStatus.Succeeded);
            await using var db = node.Database.CreateContext();
            var addresses = await db.IpAddresses.Where(a => a.VpsId != null).Select(a => a.Address.ToString()).ToListAsync();
            addresses.Distinct().Count().ShouldBe(addresses.Count);
            var ids = accepted.Select(a => a.VpsId).ToList();
            (await db.Vpses.Where(v => ids.Contains(v.Id)).CountAsync(v => v.Status == VpsStatus.Running && v.Addresses.Count == 2)).ShouldBe(Room);
            var engineIds = await db.Vpses.Where(v => ids.Contains(v.Id)).Select(v => v.EngineId).ToListAsync();
            var running = await node.Lxc.ListAsync(new ListOptions());
            engineIds.ShouldAllBe(e => running.Contains(e));

        }
        finally
        {
            // Clean up through the service (deletes run on the node's queue too), also after a failure.
            await using var db = node.Database.CreateContext();
            await db.Nodes.Where(x => x.Name == node.NodeName).ExecuteUpdateAsync(s => s.SetProperty(x => x.MemoryOvercommit, 1m));
            var (scope, vpses) = node.Resolve<VpsService>();
            await using (scope)
            {
                var deletes = new List<long>();
                foreach (var a in accepted)
                {
                    await node.WaitAsync(a.OperationId, 120);
                    var owner = await db.Vpses.Where(v => v.Id == a.VpsId).Select(v => v.OwnerId).SingleAsync();
                    deletes.Add(await vpses.DeleteAsync(customers.Single(c => c.UserId == owner), a.VpsId));
                }

                foreach (var d in deletes)
                {
                    (await node.WaitAsync(d, 120)).Status.ShouldBe(OperationStatus.Succeeded);
                }
            }
        }
    }

    [Fact]
    public async Task A_job_run_again_for_the_same_operation_does_the_work_once()
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "twice.example.com", null, []));
        (await node.WaitAsync(accepted.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);

        // The same provision job again (as Hangfire would after a retry): nothing happens.
        var (jobScope, provision) = node.Resolve<ProvisionJob>();
        await using (jobScope)
        {
            await provision.RunAsync(accepted.OperationId, CancellationToken.None);
        }

        var op = await vpses.GetOperationAsync(customer, accepted.OperationId);
        op.Attempts.ShouldBe(1);
        op.Events.Count(e => e.Message == "started").ShouldBe(1);

        // A stop whose job runs three times at once (the queued one and two duplicates): one stop.
        var stop = await vpses.StopAsync(customer, accepted.VpsId);
        await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            var (s, job) = node.Resolve<StopJob>();
            await using (s)
            {
                await job.RunAsync(stop, CancellationToken.None);
            }
        }));
        var stopped = await node.WaitAsync(stop);
        stopped.Status.ShouldBe(OperationStatus.Succeeded);
        stopped.Attempts.ShouldBe(1);
        (await vpses.GetAsync(customer, accepted.VpsId)).Status.ShouldBe(VpsStatus.Stopped);
        (await node.WaitAsync(await vpses.DeleteAsync(customer, accepted.VpsId))).Status.ShouldBe(OperationStatus.Succeeded);
    }

    private async Task<int> AllocatedAsync()
    {
        await using var db = node.Database.CreateContext();
        return await db.IpAddresses.CountAsync(a => a.VpsId != null);
    }
}
