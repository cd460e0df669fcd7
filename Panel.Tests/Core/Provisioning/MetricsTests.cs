using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Panel.Core;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Operations;
using Panel.Core.Jobs.Vps;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using Panel.Tests.Core.Billing;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>Usage sampled each minute from the real guest: rates, idempotence, hourly roll-up, owner-only graphs.</summary>
[Collection(ProvisioningCollection.Name)]
public sealed class MetricsTests(NodeHostFixture node)
{
    [Fact]
    public async Task A_running_VPS_is_sampled_once_a_minute_with_rates_rolled_up_hourly_and_shown_only_to_its_owner()
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var stranger = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "metered.example.com", null, []));
        (await node.WaitAsync(accepted.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        var engineId = (await node.VpsAsync(accepted.VpsId)).EngineId;
        try
        {
            var now = DateTime.UtcNow;
            var minute = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc).AddMinutes(-2);

            // First sample; the same minute again (a repeated or concurrent run) writes nothing.
            (await Job(minute.AddSeconds(5)).RunAsync(CancellationToken.None)).ShouldBe(1);
            var twice = await Task.WhenAll(Job(minute.AddSeconds(30)).RunAsync(CancellationToken.None), Job(minute.AddSeconds(40)).RunAsync(CancellationToken.None));
            twice.Sum().ShouldBe(0);

            // The guest burns CPU and sends traffic; a minute later the rates show it.
            await node.Lxc.ExecAsync(new ExecOptions(engineId, ["sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; ping -c 3 -i 0.2 -s 1000 " + node.Engine.BridgeCidr.Split('/')[0]], TimeSpan.FromSeconds(60)));
            (await Job(minute.AddMinutes(1).AddSeconds(5)).RunAsync(CancellationToken.None)).ShouldBe(1);
            await using (var db = node.Database.CreateContext())
            {
                var samples = await db.VpsMetrics.Where(m => m.VpsId == accepted.VpsId).OrderBy(m => m.At).ToListAsync();
                samples.Count.ShouldBe(2);
                samples[0].CpuPercent.ShouldBe(0); // nothing to compare with yet
                samples[1].CpuPercent.ShouldBeGreaterThan(0);
                samples[1].TxBytesPerSecond.ShouldBeGreaterThan(0);
                samples[1].MemoryBytes.ShouldBeGreaterThan(0);
                samples[1].DiskUsedBytes.ShouldBeGreaterThan(0);
            }

            var hour = await vpses.MetricsAsync(customer, accepted.VpsId, MetricsRange.Hour);
            hour.Count.ShouldBe(2);
            hour[1].CpuPercent.ShouldBeGreaterThan(0);

            // An hour later the completed hour is rolled up (once), and the month graph has it.
            var later = minute.AddHours(2);
            await Job(later).RunAsync(CancellationToken.None);
            await Job(later.AddSeconds(10)).RunAsync(CancellationToken.None);
            await using (var db = node.Database.CreateContext())
            {
                var hours = await db.VpsMetricHours.Where(m => m.VpsId == accepted.VpsId).ToListAsync();
                hours.Count.ShouldBeGreaterThanOrEqualTo(1);
                hours.Sum(h => h.Samples).ShouldBe(2);
            }

            (await vpses.MetricsAsync(customer, accepted.VpsId, MetricsRange.Month)).ShouldNotBeEmpty();

            // Someone else's server: not found.
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.MetricsAsync(stranger, accepted.VpsId, MetricsRange.Hour));
        }
        finally
        {
            await node.WaitAsync(await vpses.DeleteAsync(customer, accepted.VpsId), 60);
        }

        // Deleting the server deletes nothing of its history by itself, but it is no longer sampled.
        (await Job(DateTime.UtcNow.AddMinutes(5)).RunAsync(CancellationToken.None)).ShouldBe(0);
    }

    [Fact]
    public async Task Traffic_the_guest_moves_is_counted_once_per_sample_from_its_port_counters_and_billed_beyond_the_allowance()
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var customerId = customer.UserId!.Value;
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "traffic.example.com", null, []));
        (await node.WaitAsync(accepted.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        var engineId = (await node.VpsAsync(accepted.VpsId)).EngineId;
        var ct = TestContext.Current.CancellationToken;
        try
        {
            // A plan whose allowance is 0 bytes: every started GB costs 0.50.
            int planId;
            await using (var db = node.Database.CreateContext())
            {
                var plan = await db.Plans.AsNoTracking().SingleAsync(p => p.Id == db.Vpses.Where(v => v.Id == accepted.VpsId).Select(v => v.PlanId).Single(), ct);
                plan.Id = 0;
                plan.Name = "metered-" + Guid.NewGuid().ToString("N")[..8];
                plan.Active = false;
                plan.MonthlyBandwidthBytes = 0;
                plan.PricePerExtraGb = 0.50m;
                db.Plans.Add(plan);
                await db.SaveChangesAsync(ct);
                planId = plan.Id;
                await db.Vpses.Where(v => v.Id == accepted.VpsId).ExecuteUpdateAsync(u => u.SetProperty(v => v.PlanId, planId), ct);
            }

            // Samples at the coming minutes (after the VPS's creation); the guest pings the bridge's address in between.
            var now = DateTime.UtcNow;
            var minute = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc).AddMinutes(1);
            (await Job(minute).RunAsync(ct)).ShouldBe(1);
            (await node.Lxc.ExecAsync(new ExecOptions(engineId, ["ping", "-c", "5", "-i", "0.2", "-s", "8000", node.Engine.BridgeCidr.Split('/')[0]], TimeSpan.FromSeconds(30)), ct)).ExitCode.ShouldBe(0);
            (await Job(minute.AddMinutes(1)).RunAsync(ct)).ShouldBe(1);
            // The same minute twice at once (a repeated or concurrent run) stores one sample and counts it once.
            (await Task.WhenAll(Job(minute.AddMinutes(2)).RunAsync(ct), Job(minute.AddMinutes(2).AddSeconds(20)).RunAsync(ct))).Sum().ShouldBe(1);
            (await Job(minute.AddMinutes(2).AddSeconds(40)).RunAsync(ct)).ShouldBe(0);

            long counted;
            await using (var db = node.Database.CreateContext())
            {
                var last = await db.VpsMetrics.AsNoTracking().Where(m => m.VpsId == accepted.VpsId).OrderByDescending(m => m.At).FirstAsync(ct);
                counted = await db.VpsTrafficDays.Where(t => t.VpsId == accepted.VpsId).SumAsync(t => t.Bytes, ct);
                // The first sample counts the counters whole (since the port came up), each later one its delta:
                // together exactly what the counters read last.
                counted.ShouldBe(last.RxBytes + last.TxBytes);
                counted.ShouldBeGreaterThan(5 * 8000 * 2); // the pings, out and back
                (await db.VpsTrafficCounters.SingleAsync(c => c.VpsId == accepted.VpsId, ct)).At.ShouldBe(last.At);
            }

            (await scope.ServiceProvider.GetRequiredService<UsageMeter>().UsageAsync(customer, accepted.VpsId, ct)).TrafficBytes.ShouldBe(counted);

            // The period ends: metering and the invoice run (on a clock of their own) charge the started GB beyond the allowance.
            int billingDay;
            await using (var db = node.Database.CreateContext())
            {
                billingDay = BillingRules.BillingDayFor(await db.Users.Where(u => u.Id == customerId).Select(u => u.CreatedAt).SingleAsync(ct));
            }

            var period = BillingRules.PeriodContaining(billingDay, minute);
            var clock = new ManualClock(period.End.AddHours(1));
            var invoicing = ActivatorUtilities.CreateInstance<InvoicingService>(scope.ServiceProvider, ActivatorUtilities.CreateInstance<UsageMeter>(scope.ServiceProvider, clock), clock);
            await invoicing.IssueDueAsync(ct);
            await using (var db = node.Database.CreateContext())
            {
                var invoice = await db.Invoices.AsNoTracking().Include(i => i.Lines).SingleAsync(i => i.CustomerId == customerId && i.PeriodStart == period.Start, ct);
                var traffic = invoice.Lines.Single(l => l.Kind == InvoiceLineKind.Bandwidth && l.VpsId == accepted.VpsId);
                (traffic.Quantity, traffic.UnitPrice, traffic.Amount).ShouldBe((1m, 0.50m, 0.50m)); // under 1 GB: one started GB
                invoice.Lines.Single(l => l.Kind == InvoiceLineKind.Hours && l.VpsId == accepted.VpsId).Quantity.ShouldBeGreaterThan(0);
            }
        }
        finally
        {
            await node.WaitAsync(await vpses.DeleteAsync(customer, accepted.VpsId), 60);
        }
    }

    [Fact]
    public void A_counter_that_went_back_means_the_guest_restarted_and_rates_start_from_zero()
    {
        var at = new DateTime(2026, 11, 25, 10, 0, 0, DateTimeKind.Utc);
        var before = new Panel.Core.Domain.Metrics.VpsMetric { At = at, CpuTimeMs = 50_000, RxBytes = 10_000, TxBytes = 10_000 };
        var after = MetricsJob.Sample(1, 2, at.AddMinutes(1), new InstanceMetrics(TimeSpan.FromSeconds(6), 1, 1, 1, 1, 1, 600, 60), before);
        after.CpuPercent.ShouldBe(5); // 6 s of CPU over 60 s on 2 vCPUs
        after.RxBytesPerSecond.ShouldBe(10);
        after.TxBytesPerSecond.ShouldBe(1);
        MetricsJob.Sample(1, 1, at.AddMinutes(1), new InstanceMetrics(TimeSpan.FromSeconds(120), 1, 1, 1, 1, 1, 0, 0), new Panel.Core.Domain.Metrics.VpsMetric { At = at }).CpuPercent.ShouldBe(100); // capped
    }

    private MetricsJob Job(DateTime at)
        => new(node.Services.GetRequiredService<IDbContextFactory<PanelDbContext>>(), node.Services.GetRequiredService<DriverRegistry>(),
            node.Options, new FixedClock(at), Microsoft.Extensions.Logging.Abstractions.NullLogger<MetricsJob>.Instance);

    private sealed class FixedClock(DateTime at) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(at, TimeSpan.Zero);
    }
}
