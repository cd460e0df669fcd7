using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Tests.Core.Billing;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>A throttling plan's used-up allowance slows the real guest's port until the billing period ends.</summary>
[Collection(ProvisioningCollection.Name)]
public sealed class ThrottleTests(NodeHostFixture node)
{
    [Fact]
    public async Task A_used_up_allowance_throttles_the_port_once_until_the_period_ends_and_then_the_plan_speed_is_back()
    {
        node.Require();
        var ct = TestContext.Current.CancellationToken;
        var customer = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "throttled.example.com", null, []), ct);
        (await node.WaitAsync(accepted.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        var id = accepted.VpsId;
        var port = PortName.For((await node.VpsAsync(id)).EngineId);
        try
        {
            // On a throttling plan (100 Mbit/s, 1 GiB a month, then 5 Mbit/s), with 2 GiB moved today.
            (await Tc(port)).ShouldContain("rate 100Mbit");
            int billingDay;
            await using (var db = node.Database.CreateContext())
            {
                var planId = await db.Vpses.Where(v => v.Id == id).Select(v => v.PlanId).SingleAsync(ct);
                var plan = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == planId, ct);
                plan.Id = 0;
                plan.Name = "throttle-" + Guid.NewGuid().ToString("N")[..8];
                plan.Active = false;
                plan.PortSpeedMbit = 100;
                plan.MonthlyBandwidthBytes = 1L << 30;
                plan.PricePerExtraGb = null;
                plan.ThrottleMbit = 5;
                db.Plans.Add(plan);
                await db.SaveChangesAsync(ct);
                await db.Vpses.Where(v => v.Id == id).ExecuteUpdateAsync(u => u.SetProperty(v => v.PlanId, plan.Id), ct);
                db.VpsTrafficDays.Add(new VpsTrafficDay { VpsId = id, Day = DateOnly.FromDateTime(DateTime.UtcNow), Bytes = 2L << 30 });
                await db.SaveChangesAsync(ct);
                billingDay = BillingRules.BillingDayFor(await db.Users.Where(u => u.Id == customer.UserId).Select(u => u.CreatedAt).SingleAsync(ct));
            }

            var period = BillingRules.PeriodContaining(billingDay, DateTime.UtcNow);
            var clock = new ManualClock(DateTime.UtcNow);
            var throttle = ActivatorUtilities.CreateInstance<ThrottleService>(scope.ServiceProvider, clock);

            // The run throttles it through one operation; the port runs at 5 Mbit/s, marked until the period ends.
            (await throttle.RunAsync(ct)).ShouldBe(new ThrottleRunReport(1, 0, 0));
            (await node.WaitAsync(await LastAsync(id, OperationKind.Throttle))).Status.ShouldBe(OperationStatus.Succeeded);
            (await Tc(port)).ShouldContain("rate 5Mbit");
            var throttled = await vpses.GetAsync(customer, id, ct);
            (throttled.PortSpeedMbit, throttled.ThrottledUntil).ShouldBe((5, period.End));

            // Again (the next hour): nothing to do.
            (await throttle.RunAsync(ct)).ShouldBe(new ThrottleRunReport(0, 0, 0));
            await using (var db = node.Database.CreateContext())
            {
                (await db.Operations.CountAsync(o => o.VpsId == id && o.Kind == OperationKind.Throttle, ct)).ShouldBe(1);
            }

            // A plan change within the period keeps the throttle until the period end, at the new plan's throttle speed.
            int otherPlan;
            await using (var db = node.Database.CreateContext())
            {
                var plan = await db.Plans.AsNoTracking().FirstAsync(p => p.Id == db.Vpses.Where(v => v.Id == id).Select(v => v.PlanId).First(), ct);
                plan.Id = 0;
                plan.Name = "throttle-" + Guid.NewGuid().ToString("N")[..8];
                plan.ThrottleMbit = 7;
                db.Plans.Add(plan);
                await db.SaveChangesAsync(ct);
                otherPlan = plan.Id;
            }

            (await node.WaitAsync(await vpses.ResizeAsync(Actor.System, id, otherPlan, ct))).Status.ShouldBe(OperationStatus.Succeeded);
            (await Tc(port)).ShouldContain("rate 7Mbit");
            var resized = await vpses.GetAsync(customer, id, ct);
            (resized.PortSpeedMbit, resized.ThrottledUntil).ShouldBe((7, period.End));

            // The period ends: the plan's speed is back and the mark cleared; the new period has no traffic yet.
            clock.Set(period.End.AddMinutes(30));
            (await throttle.RunAsync(ct)).ShouldBe(new ThrottleRunReport(0, 1, 0));
            (await node.WaitAsync(await LastAsync(id, OperationKind.Unthrottle))).Status.ShouldBe(OperationStatus.Succeeded);
            (await Tc(port)).ShouldContain("rate 100Mbit");
            var restored = await vpses.GetAsync(customer, id, ct);
            (restored.PortSpeedMbit, restored.ThrottledUntil, restored.Status).ShouldBe((100, (DateTime?)null, Panel.Core.Domain.Compute.VpsStatus.Running));
            (await throttle.RunAsync(ct)).ShouldBe(new ThrottleRunReport(0, 0, 0));

            await using (var db = node.Database.CreateContext())
            {
                var audits = await db.AuditEvents.AsNoTracking().Where(a => a.Target == $"vps:{id}" && (a.Action == AuditActions.VpsThrottle || a.Action == AuditActions.VpsUnthrottle))
                    .OrderBy(a => a.Id).Select(a => a.Action).ToListAsync(ct);
                audits.ShouldBe([AuditActions.VpsThrottle, AuditActions.VpsUnthrottle]);
            }
        }
        finally
        {
            await node.WaitAsync(await vpses.DeleteAsync(customer, id), 60);
        }
    }

    private async Task<long> LastAsync(int vpsId, OperationKind kind)
    {
        await using var db = node.Database.CreateContext();
        return await db.Operations.Where(o => o.VpsId == vpsId && o.Kind == kind).OrderByDescending(o => o.Id).Select(o => o.Id).FirstAsync();
    }

    private static async Task<string> Tc(string port) => (await ProcessRunner.Instance.RunAsync("tc", ["qdisc", "show", "dev", port])).StdOut;
}
