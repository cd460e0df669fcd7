using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Jobs.Vps;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>Drift between the database and the node, repaired (or reported) by reconciliation.</summary>
[Collection(ProvisioningCollection.Name)]
public sealed class ReconcileTests(NodeHostFixture node)
{
    [Fact]
    public async Task A_VPS_that_should_run_is_started_and_a_wrong_status_is_corrected()
    {
        node.Require();
        var (customer, vps, engineId) = await RunningVpsAsync("drift.example.com");

        // Stopped behind the panel's back (as after a host reboot): reconciliation starts it.
        await node.Lxc.StopAsync(new StopOptions(engineId, TimeSpan.Zero));
        var report = await ReconcileAsync();
        report.Started.ShouldBe(1);
        await WaitIdleAsync(vps);
        (await node.Lxc.GetStateAsync(new StateOptions(engineId))).Status.ShouldBe(InstanceStatus.Running);
        (await Vpses(v => v.GetAsync(customer, vps))).Status.ShouldBe(VpsStatus.Running);

        // Stopped by its owner, then started behind the panel's back: the status follows the engine.
        var stop = await Vpses(v => v.StopAsync(customer, vps));
        (await node.WaitAsync(stop)).Status.ShouldBe(OperationStatus.Succeeded);
        await node.Lxc.StartAsync(new StartOptions(engineId));
        (await ReconcileAsync()).Corrected.ShouldBe(1);
        (await Vpses(v => v.GetAsync(customer, vps))).Status.ShouldBe(VpsStatus.Running);

        // Its guest removed behind the panel's back: Error, with the reason.
        await node.Lxc.DeleteAsync(new DeleteOptions(engineId, Force: true));
        (await ReconcileAsync()).Missing.ShouldBe(1);
        var view = await Vpses(v => v.GetAsync(customer, vps));
        view.Status.ShouldBe(VpsStatus.Error);
        view.StatusReason.ShouldBe($"its guest is missing on node {node.NodeName}");
        (await ReconcileAsync()).Missing.ShouldBe(0); // reported once

        (await node.WaitAsync(await Vpses(v => v.DeleteAsync(customer, vps)))).Status.ShouldBe(OperationStatus.Succeeded);
    }

    [Fact]
    public async Task A_lingering_guest_of_a_deleted_VPS_is_removed_and_an_unknown_guest_is_reported_not_touched()
    {
        node.Require();
        var (customer, vps, engineId) = await RunningVpsAsync("linger.example.com");
        (await node.WaitAsync(await Vpses(v => v.DeleteAsync(customer, vps)))).Status.ShouldBe(OperationStatus.Succeeded);

        // The deleted VPS's guest comes back (say, a delete that crashed half-way on an older version).
        var row = await node.VpsAsync(vps);
        var spec = Spec(engineId, "10.251.0.1");
        spec = spec with { Network = new NetworkSpec(row.MacAddress, FreeAddress()) };
        await node.Lxc.CreateAsync(new CreateOptions(spec));

        // And a guest nobody ordered.
        var stranger = Spec("zz" + Guid.NewGuid().ToString("N")[..8], FreeAddress(1));
        await node.Lxc.CreateAsync(new CreateOptions(stranger));
        try
        {
            var report = await ReconcileAsync();
            report.Removed.ShouldBe(1);
            report.Unknown.ShouldBe([stranger.Id]);
            var left = await node.Lxc.ListAsync(new ListOptions());
            left.ShouldNotContain(engineId);
            left.ShouldContain(stranger.Id);
        }
        finally
        {
            await node.Lxc.DeleteAsync(new DeleteOptions(stranger.Id, Force: true));
        }
    }

    [Fact]
    public async Task An_operation_whose_job_was_lost_is_dispatched_again_and_finishes()
    {
        node.Require();
        var (customer, vps, _) = await RunningVpsAsync("lost.example.com");
        // The create's job lets go of the VPS's lock (explicitly: a pooled connection would keep it).
        await WaitLockFreeAsync(vps);

        // A stop that a crashed process had started: Running, holding the VPS, no live job.
        long opId;
        await using (var db = node.Database.CreateContext())
        {
            var row = await db.Vpses.SingleAsync(v => v.Id == vps);
            var op = new Operation
            {
                VpsId = vps, OwnerId = row.OwnerId, NodeId = row.NodeId, ActorName = customer.Name, Kind = OperationKind.Stop,
                Status = OperationStatus.Running, Attempts = 1, CreatedAt = DateTime.UtcNow.AddMinutes(-5), StartedAt = DateTime.UtcNow.AddMinutes(-5),
            };
            db.Operations.Add(op);
            await db.SaveChangesAsync();
            row.BusyOperationId = op.Id;
            row.ShouldRun = false;
            await db.SaveChangesAsync();
            opId = op.Id;
        }

        (await ReconcileAsync()).Redispatched.ShouldBe(1);
        var done = await node.WaitAsync(opId);
        done.Status.ShouldBe(OperationStatus.Succeeded);
        done.Attempts.ShouldBe(2);
        done.Events.ShouldContain(e => e.Message == "started again (attempt 2)");
        (await Vpses(v => v.GetAsync(customer, vps))).Status.ShouldBe(VpsStatus.Stopped);
        (await node.WaitAsync(await Vpses(v => v.DeleteAsync(customer, vps)))).Status.ShouldBe(OperationStatus.Succeeded);
    }

    private async Task<(Actor Customer, int Vps, string EngineId)> RunningVpsAsync(string hostname)
    {
        var customer = await node.NewCustomerAsync();
        var accepted = await Vpses(async v => await v.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), hostname, null, [])));
        (await node.WaitAsync(accepted.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        return (customer, accepted.VpsId, (await node.VpsAsync(accepted.VpsId)).EngineId);
    }

    private async Task WaitLockFreeAsync(int vps)
    {
        await using var conn = new Npgsql.NpgsqlConnection(node.Database.ConnectionString);
        await conn.OpenAsync();
        for (var i = 0; ; i++)
        {
            await using var cmd = new Npgsql.NpgsqlCommand(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = @space AND objid = @id AND granted", conn);
            cmd.Parameters.AddWithValue("space", OperationRunner.LockSpace);
            cmd.Parameters.AddWithValue("id", vps);
            var held = (long)(await cmd.ExecuteScalarAsync())!;
            if (held == 0)
            {
                return;
            }

            i.ShouldBeLessThan(50, "the finished operation still holds the VPS's advisory lock after 5 s");
            await Task.Delay(100);
        }
    }

    private async Task<T> Vpses<T>(Func<VpsService, Task<T>> call)
    {
        var (scope, vpses) = node.Resolve<VpsService>();
        await using (scope)
        {
            return await call(vpses);
        }
    }

    private async Task<ReconcileReport> ReconcileAsync()
    {
        var (scope, job) = node.Resolve<ReconcileJob>();
        await using (scope)
        {
            return await job.RunAsync(atStart: false, CancellationToken.None);
        }
    }

    private async Task WaitIdleAsync(int vps)
    {
        for (var i = 0; i < 300 && (await node.VpsAsync(vps)).BusyOperationId is not null; i++)
        {
            await Task.Delay(100);
        }

        (await node.VpsAsync(vps)).BusyOperationId.ShouldBeNull();
    }

    private string FreeAddress(int offset = 0)
    {
        var gw = Panel.Core.Services.IpPoolService.ParseBridge(node.Engine.BridgeCidr).Subnet.BaseAddress.GetAddressBytes();
        return $"{gw[0]}.{gw[1]}.{gw[2]}.{3 + offset}"; // below the pool's range (it starts at .10)
    }

    private static InstanceSpec Spec(string id, string ip)
        => new(id, "stray.example.com", "busybox", new InstanceLimits(1, 64L << 20, 128L << 20, 64), new NetworkSpec(VpsService.MacFor(id), ip), GuestAccess.None);
}
