using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Core.Billing;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>
/// The full dunning cycle on a simulated clock, against the in-process node and a real LXC container:
/// invoice, reminder in the outbox, suspension (the container really stops; the customer cannot start
/// it), payment, automatic unsuspension (it really runs again), then a second unpaid cycle that ends in
/// termination with the address back in the pool. Billing and dunning see the moved clock; the node's
/// operations run in real time, as they would.
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class DunningCycleTests(NodeHostFixture node)
{
    [Fact]
    public async Task An_unpaid_invoice_is_reminded_suspends_the_vps_payment_brings_it_back_and_a_second_unpaid_one_terminates_it()
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var customerId = customer.UserId!.Value;
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "dunning.example.com", null, []));
        (await node.WaitAsync(accepted.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        var id = accepted.VpsId;
        var created = await node.VpsAsync(id);
        var engineId = created.EngineId;
        var address = created.Addresses.Single(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork).Address;
        async Task<InstanceStatus> Engine() => (await node.Lxc.GetStateAsync(new StateOptions(engineId))).Status;
        (await Engine()).ShouldBe(InstanceStatus.Running);

        // Billing and dunning on a clock the test moves.
        var clock = new ManualClock(DateTime.UtcNow);
        var invoicing = ActivatorUtilities.CreateInstance<InvoicingService>(scope.ServiceProvider, ActivatorUtilities.CreateInstance<UsageMeter>(scope.ServiceProvider, clock), clock);
        var dunning = ActivatorUtilities.CreateInstance<DunningService>(scope.ServiceProvider, clock);
        var billing = ActivatorUtilities.CreateInstance<BillingService>(scope.ServiceProvider, clock, dunning);
        await scope.ServiceProvider.GetRequiredService<SettingsService>().SetDunningAsync(Actor.System, new DunningSettings(true, [3], [1], 14, 30));
        var ct = TestContext.Current.CancellationToken;

        // First period: the invoice is issued when it ends; a reminder 3 days before it is due.
        int billingDay;
        await using (var db = node.Database.CreateContext())
        {
            billingDay = BillingRules.BillingDayFor(await db.Users.Where(u => u.Id == customerId).Select(u => u.CreatedAt).SingleAsync(ct));
        }

        var first = await IssueAsync(invoicing, clock, customerId, billingDay, clock.UtcNow);
        clock.Set(first.DueAt.AddDays(-2));
        (await dunning.RunForCustomerAsync(customerId, ct)).Reminders.ShouldBe(1);
        await using (var db = node.Database.CreateContext())
        {
            var mail = await db.MailOutbox.SingleAsync(m => m.To == customer.Name, ct);
            mail.Subject.ShouldContain(first.Number);
            mail.SentAt.ShouldBeNull();
        }

        // 14 days overdue: suspended - the container is stopped and the customer cannot start it.
        clock.Set(first.DueAt.AddDays(14));
        (await dunning.RunForCustomerAsync(customerId, ct)).Suspended.ShouldBe(1);
        long suspendOp;
        await using (var db = node.Database.CreateContext())
        {
            suspendOp = (await db.DunningSuspensions.SingleAsync(s => s.VpsId == id, ct)).OperationId!.Value;
        }

        (await node.WaitAsync(suspendOp, 90)).Status.ShouldBe(OperationStatus.Succeeded);
        (await dunning.RunForCustomerAsync(customerId, ct)).ShouldBe(new DunningRunReport(0, 0, 0, 0)); // each step once
        (await vpses.GetAsync(customer, id)).Status.ShouldBe(VpsStatus.Suspended);
        (await Engine()).ShouldBe(InstanceStatus.Stopped);
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.StartAsync(customer, id, ct))).Message.ShouldContain($"unpaid invoice {first.Number}");
        (await Engine()).ShouldBe(InstanceStatus.Stopped);

        // Payment: the suspension is lifted at once and the container runs again.
        (await billing.RecordPaymentAsync(new Actor(Guid.NewGuid(), "admin@test.local", IsAdmin: true), first.Id, first.Total, "bank transfer", ct)).InvoicePaid.ShouldBeTrue();
        long unsuspendOp;
        await using (var db = node.Database.CreateContext())
        {
            unsuspendOp = await db.Operations.Where(o => o.VpsId == id && o.Kind == OperationKind.Unsuspend).Select(o => o.Id).SingleAsync(ct);
            (await db.DunningSuspensions.AnyAsync(s => s.VpsId == id, ct)).ShouldBeFalse();
        }

        (await node.WaitAsync(unsuspendOp, 90)).Status.ShouldBe(OperationStatus.Succeeded);
        (await vpses.GetAsync(customer, id)).Status.ShouldBe(VpsStatus.Running);
        (await Engine()).ShouldBe(InstanceStatus.Running);

        // Second period, never paid: 30 days overdue the VPS is deleted and its address is free again.
        var second = await IssueAsync(invoicing, clock, customerId, billingDay, first.PeriodEnd);
        second.Id.ShouldNotBe(first.Id);
        clock.Set(second.DueAt.AddDays(30));
        (await dunning.RunForCustomerAsync(customerId, ct)).Terminated.ShouldBe(1);
        long deleteOp;
        await using (var db = node.Database.CreateContext())
        {
            deleteOp = await db.Operations.Where(o => o.VpsId == id && o.Kind == OperationKind.Delete).Select(o => o.Id).SingleAsync(ct);
        }

        (await node.WaitAsync(deleteOp, 90)).Status.ShouldBe(OperationStatus.Succeeded);
        (await dunning.RunForCustomerAsync(customerId, ct)).Terminated.ShouldBe(0);
        (await node.VpsAsync(id)).Status.ShouldBe(VpsStatus.Deleted);
        (await node.Lxc.ListAsync(new ListOptions(), ct)).ShouldNotContain(engineId);
        await using (var db = node.Database.CreateContext())
        {
            var row = await db.IpAddresses.AsNoTracking().SingleAsync(a => a.Address == address, ct);
            row.VpsId.ShouldBeNull();
            (await db.DunningEvents.Where(e => e.CustomerId == customerId).OrderBy(e => e.Id).Select(e => e.Step).ToListAsync(ct))
                .ShouldBe(["before-3d", "after-1d", DunningSteps.Suspend, "unsuspend", "after-1d", DunningSteps.Terminate]);
            (await db.MailOutbox.CountAsync(m => m.To == customer.Name, ct)).ShouldBe(6);
        }
    }

    /// <summary>Moves the clock past the end of the period holding <paramref name="at"/> and runs the invoice job; returns the customer's invoice for it.</summary>
    private async Task<Invoice> IssueAsync(InvoicingService invoicing, ManualClock clock, Guid customerId, int billingDay, DateTime at)
    {
        var period = BillingRules.PeriodContaining(billingDay, at);
        clock.Set(period.End.AddHours(1));
        await invoicing.IssueDueAsync(TestContext.Current.CancellationToken);
        await using var db = node.Database.CreateContext();
        var invoice = await db.Invoices.AsNoTracking().SingleAsync(i => i.CustomerId == customerId && i.PeriodStart == period.Start, TestContext.Current.CancellationToken);
        invoice.Status.ShouldBe(InvoiceStatus.Open);
        invoice.Total.ShouldBeGreaterThan(0m);
        return invoice;
    }
}
