using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>Managing a running VPS through the service: snapshots, access reset, plan change, reinstall, suspension.</summary>
[Collection(ProvisioningCollection.Name)]
public sealed class ManageTests(NodeHostFixture node)
{
    [Fact]
    public async Task Snapshot_restore_access_reset_plan_change_reinstall_and_suspension_each_run_as_an_operation()
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "manage.example.com", null, []));
        (await node.WaitAsync(accepted.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        var id = accepted.VpsId;
        var engineId = (await node.VpsAsync(id)).EngineId;

        async Task Ok(Task<long> request) => (await node.WaitAsync(await request, 90)).Status.ShouldBe(OperationStatus.Succeeded);
        async Task<string> Sh(string command) => (await node.Lxc.ExecAsync(new ExecOptions(engineId, ["sh", "-c", command]))).StdOut.Trim();

        // Snapshot, change a file, restore: the old content is back and the VPS runs again.
        await Sh("echo before > /root/note");
        await Ok(vpses.SnapshotAsync(customer, id, "first"));
        (await vpses.SnapshotsAsync(customer, id)).Select(s => s.Name).ShouldBe(["first"]);
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.SnapshotAsync(customer, id, "first"))).Message.ShouldContain("exists");
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.SnapshotAsync(customer, id, "../x"))).Field.ShouldBe("Name");
        await Sh("echo after > /root/note");
        await Ok(vpses.RestoreSnapshotAsync(customer, id, "first"));
        (await vpses.GetAsync(customer, id)).Status.ShouldBe(VpsStatus.Running);
        (await Sh("cat /root/note")).ShouldBe("before");
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.RestoreSnapshotAsync(customer, id, "nope"))).Field.ShouldBe("Name");
        await Ok(vpses.DeleteSnapshotAsync(customer, id, "first"));
        (await vpses.SnapshotsAsync(customer, id)).ShouldBeEmpty();
        (await node.Lxc.ListSnapshotsAsync(engineId)).ShouldBeEmpty();

        // A new root password reaches the guest (as a SHA-512 crypt hash).
        (await Sh("grep ^root: /etc/shadow")).ShouldStartWith("root:*");
        await Ok(vpses.ResetAccessAsync(customer, id, "New-Root-Passw0rd", []));
        (await Sh("grep ^root: /etc/shadow")).ShouldStartWith("root:$6$");

        // A bigger plan of the same approach; a plan of another approach is refused.
        var plans = await node.Resolve<CatalogService>().Service.PlansAsync(customer);
        var bigger = plans.Single(p => p.Name == "Container M");
        await Ok(vpses.ResizeAsync(customer, id, bigger.Id));
        var resized = await vpses.GetAsync(customer, id);
        resized.PlanName.ShouldBe("Container M");
        resized.MemoryBytes.ShouldBe(bigger.MemoryBytes);
        resized.Status.ShouldBe(VpsStatus.Running);
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.ResizeAsync(customer, id, plans.Single(p => p.Approach == VirtualizationKind.FullVm).Id)))
            .Message.ShouldContain("can only move between Container plans");

        // Reinstall: a fresh disk, same address and name, running.
        var addresses = resized.Addresses;
        await Ok(vpses.ReinstallAsync(customer, id, await node.ImageIdAsync(), null, []));
        (await Sh("cat /root/note 2>/dev/null || echo gone")).ShouldBe("gone");
        (await Sh("hostname")).ShouldBe("manage.example.com");
        (await vpses.GetAsync(customer, id)).Addresses.ShouldBe(addresses);

        // Suspension: stopped, locked for the customer with the reason, back on unsuspend.
        await Should.ThrowAsync<UnauthorizedAccessException>(() => vpses.SuspendAsync(customer, id, "x"));
        await Ok(vpses.SuspendAsync(Actor.System, id, "invoice 2026-0042 unpaid"));
        var suspended = await vpses.GetAsync(customer, id);
        suspended.Status.ShouldBe(VpsStatus.Suspended);
        suspended.StatusReason.ShouldBe("invoice 2026-0042 unpaid");
        (await node.Lxc.GetStateAsync(new StateOptions(engineId))).Status.ShouldBe(InstanceStatus.Stopped);
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.StartAsync(customer, id))).Message.ShouldContain("suspended (invoice 2026-0042 unpaid)");
        await Ok(vpses.UnsuspendAsync(Actor.System, id));
        (await vpses.GetAsync(customer, id)).Status.ShouldBe(VpsStatus.Running);
        (await node.Lxc.GetStateAsync(new StateOptions(engineId))).Status.ShouldBe(InstanceStatus.Running);

        await Ok(vpses.DeleteAsync(customer, id));
    }
}
