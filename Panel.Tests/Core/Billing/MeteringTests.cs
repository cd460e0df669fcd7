using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;

namespace Panel.Tests.Core.Billing;

/// <summary>The metering job: which hours count, each (VPS, hour) once however the job runs, and writes only for what changed.</summary>
public sealed class MeteringTests(BillingFixture fixture) : BillingTest(fixture)
{
    [Fact]
    public async Task Every_started_hour_of_a_VPS_life_counts_once_whatever_its_state()
    {
        var plan = await PlanAsync(5m, 0.01m);
        var customer = await CustomerAsync(Utc(2026, 1, 3));
        var shortLived = await VpsAsync(customer, plan, Utc(2026, 3, 1, 10, 59), Utc(2026, 3, 1, 11, 1));   // two started hours
        var exactHour = await VpsAsync(customer, plan, Utc(2026, 3, 1, 10, 0), Utc(2026, 3, 1, 11, 0));     // one
        var suspended = await VpsAsync(customer, plan, Utc(2026, 3, 1, 10, 30), status: VpsStatus.Suspended); // billed like any other
        var stopped = await VpsAsync(customer, plan, Utc(2026, 3, 1, 10, 30), status: VpsStatus.Stopped);
        var failed = await VpsAsync(customer, plan, Utc(2026, 3, 1, 10, 30), status: VpsStatus.Error, onNode: false); // provisioning failed
        var current = await VpsAsync(customer, plan, Utc(2026, 3, 1, 13, 10)); // its first hour has not ended

        Clock.Set(Utc(2026, 3, 1, 13, 30));
        (await MeterAsync()).ShouldBe(2 + 1 + 3 + 3 + 3);
        await using var db = Db();
        var rows = await MeteredHoursAsync();
        rows.Where(r => r.VpsId == shortLived).Select(r => r.HourStart).OrderBy(h => h).ShouldBe([Utc(2026, 3, 1, 10), Utc(2026, 3, 1, 11)]);
        rows.Where(r => r.VpsId == exactHour).Select(r => r.HourStart).ShouldBe([Utc(2026, 3, 1, 10)]);
        rows.Where(r => r.VpsId == suspended).Count(r => r.Billable).ShouldBe(3);
        rows.Single(r => r.VpsId == suspended && r.HourStart == Utc(2026, 3, 1, 12)).Status.ShouldBe("Suspended");
        rows.Where(r => r.VpsId == stopped).Count(r => r.Billable).ShouldBe(3);
        rows.Where(r => r.VpsId == failed).ShouldAllBe(r => !r.Billable);
        rows.ShouldNotContain(r => r.VpsId == current);
        rows.ShouldAllBe(r => r.OwnerId == customer && r.PlanId == plan);
        (await db.VpsTrafficDays.CountAsync(Ct)).ShouldBe(0); // no counters were sampled

        // The failed order deleted later stays unbilled; nothing is recorded twice.
        await db.Vpses.Where(v => v.Id == failed).ExecuteUpdateAsync(s => s.SetProperty(v => v.DeletedAt, Utc(2026, 3, 1, 14, 20)).SetProperty(v => v.Status, VpsStatus.Deleted), Ct);
        Clock.Set(Utc(2026, 3, 1, 16, 0));
        (await MeterAsync()).ShouldBe(3 + 3 + 3 + 2); // suspended, stopped and current 13-15; failed 13-14 (unbilled)
        rows = await MeteredHoursAsync();
        rows.Count(u => u.VpsId == failed && u.Billable).ShouldBe(0);
        rows.Count(u => u.VpsId == failed).ShouldBe(5);
    }

    [Fact]
    public async Task Running_twice_late_and_concurrently_records_each_hour_once()
    {
        var plan = await PlanAsync(5m, 0.01m);
        var random = new Random(7);
        await using (var db = Db())
        {
            for (var c = 0; c < 20; c++)
            {
                var user = NewCustomer(Utc(2026, 1, 1 + c));
                db.Users.Add(user);
                for (var v = 0; v < 3; v++)
                {
                    var created = Utc(2026, 2, 1).AddMinutes(random.Next(0, 20 * 24 * 60));
                    DateTime? deleted = random.Next(2) == 0 ? created.AddMinutes(random.Next(1, 30 * 24 * 60)) : null;
                    db.Vpses.Add(NewVps(user.Id, plan, created, deleted));
                }
            }

            await db.SaveChangesAsync(Ct);
        }

        async Task<long> ExpectedAsync()
        {
            await using var db = Db();
            var until = Clock.UtcNow;
            long total = 0;
            foreach (var v in await db.Vpses.AsNoTracking().ToListAsync(Ct))
            {
                for (var h = v.CreatedAt.AddTicks(-(v.CreatedAt.Ticks % TimeSpan.TicksPerHour)); h.AddHours(1) <= until && (v.DeletedAt is null || h < v.DeletedAt); h = h.AddHours(1))
                {
                    total++;
                }
            }

            return total;
        }

        async Task<long> RowsAsync() => (await MeteredHoursAsync()).Count;

        Clock.Set(Utc(2026, 2, 10, 5, 7));
        var first = await MeterAsync();
        (await RowsAsync()).ShouldBe(first);
        (await RowsAsync()).ShouldBe(await ExpectedAsync());
        (await MeterAsync()).ShouldBe(0); // twice: nothing more

        // Late: the clock jumps 12 days; one run catches up on every missed hour.
        Clock.Set(Utc(2026, 2, 22, 0, 30));
        await MeterAsync();
        (await RowsAsync()).ShouldBe(await ExpectedAsync());

        // Concurrently, on separate scopes (as on two processes): together they record each hour once.
        Clock.Set(Utc(2026, 3, 5, 17, 45));
        var before = await RowsAsync();
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(MeterAsync, Ct)));
        (await RowsAsync()).ShouldBe(await ExpectedAsync());
        runs.Sum().ShouldBe((int)(await RowsAsync() - before), "the concurrent runs' inserts add up to the new rows: none counted twice");
        (await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(MeterAsync, Ct)))).Sum().ShouldBe(0);
    }

    [Fact]
    public async Task A_run_writes_only_for_VPSes_that_changed_and_a_change_counts_from_the_hour_it_was_seen_in()
    {
        var small = await PlanAsync(5m, 0.01m);
        var large = await PlanAsync(20m, 0.04m);
        var customer = await CustomerAsync(Utc(2026, 1, 3));
        var quiet = await VpsAsync(customer, small, Utc(2026, 3, 1, 9, 10));
        var upgraded = await VpsAsync(customer, small, Utc(2026, 3, 1, 9, 10));
        var stopped = await VpsAsync(customer, small, Utc(2026, 3, 1, 9, 10));
        var deleted = await VpsAsync(customer, small, Utc(2026, 3, 1, 9, 10));
        await using var db = Db();
        async Task<List<(long Id, int VpsId, int PlanId, string Status, DateTime FromHour, DateTime? ToHour)>> SegmentsAsync()
            => (await db.UsageSegments.AsNoTracking().OrderBy(s => s.Id).ToListAsync(Ct)).Select(s => (s.Id, s.VpsId, s.PlanId, s.Status, s.FromHour, s.ToHour)).ToList();
        (await db.UsageChanges.CountAsync(Ct)).ShouldBe(4); // new VPSes are marked by the trigger

        Clock.Set(Utc(2026, 3, 1, 10, 5));
        (await MeterAsync()).ShouldBe(4);
        var first = await SegmentsAsync();
        first.Count.ShouldBe(4);
        first.ShouldAllBe(s => s.FromHour == Utc(2026, 3, 1, 9) && s.ToHour == null);
        (await db.UsageChanges.CountAsync(Ct)).ShouldBe(0);

        // Quiet hours: nothing is written; the open segments reach the watermark by themselves.
        Clock.Set(Utc(2026, 3, 1, 13, 5));
        (await MeterAsync()).ShouldBe(4 * 3);
        (await SegmentsAsync()).ShouldBe(first);
        (await db.UsageWatermarks.SingleAsync(Ct)).MeteredUntil.ShouldBe(Utc(2026, 3, 1, 13));

        // In hour 13 one VPS changes plan, one stops, one is deleted (13:40); the triggers mark them.
        await db.Vpses.Where(v => v.Id == upgraded).ExecuteUpdateAsync(u => u.SetProperty(v => v.PlanId, large), Ct);
        await db.Vpses.Where(v => v.Id == stopped).ExecuteUpdateAsync(u => u.SetProperty(v => v.Status, VpsStatus.Stopped), Ct);
        await db.Vpses.Where(v => v.Id == quiet).ExecuteUpdateAsync(u => u.SetProperty(v => v.Hostname, "renamed.example.com"), Ct); // not billing state
        await db.Vpses.Where(v => v.Id == deleted).ExecuteUpdateAsync(u => u.SetProperty(v => v.DeletedAt, Utc(2026, 3, 1, 13, 40))
            .SetProperty(v => v.Status, VpsStatus.Deleted).SetProperty(v => v.NodeId, (int?)null), Ct);
        (await db.UsageChanges.Select(c => c.VpsId).OrderBy(v => v).ToListAsync(Ct)).ShouldBe(new[] { upgraded, stopped, deleted }.Order());

        Clock.Set(Utc(2026, 3, 1, 14, 5));
        (await MeterAsync()).ShouldBe(4);
        var hours = await MeteredHoursAsync();
        hours.Single(h => h.VpsId == upgraded && h.HourStart == Utc(2026, 3, 1, 12)).PlanId.ShouldBe(small);
        hours.Single(h => h.VpsId == upgraded && h.HourStart == Utc(2026, 3, 1, 13)).PlanId.ShouldBe(large); // as the run saw it
        hours.Single(h => h.VpsId == stopped && h.HourStart == Utc(2026, 3, 1, 13)).Status.ShouldBe("Stopped");
        hours.Where(h => h.VpsId == deleted).Select(h => h.HourStart).Max().ShouldBe(Utc(2026, 3, 1, 13));
        hours.Single(h => h.VpsId == deleted && h.HourStart == Utc(2026, 3, 1, 13)).ShouldSatisfyAllConditions(h => h.Status.ShouldBe("Deleted"), h => h.Billable.ShouldBeTrue());
        var segments = await SegmentsAsync();
        segments.Count(s => s.VpsId == quiet).ShouldBe(1);
        segments.Where(s => s.VpsId == upgraded).Select(s => (s.FromHour, s.ToHour, s.PlanId)).ShouldBe([(Utc(2026, 3, 1, 9), Utc(2026, 3, 1, 13), small), (Utc(2026, 3, 1, 13), null, large)]);
        segments.Where(s => s.VpsId == deleted).Select(s => (s.FromHour, s.ToHour)).ShouldBe([(Utc(2026, 3, 1, 9), Utc(2026, 3, 1, 13)), (Utc(2026, 3, 1, 13), Utc(2026, 3, 1, 14))]);
        (await db.UsageChanges.CountAsync(Ct)).ShouldBe(0);

        // Later hours: the deleted VPS adds nothing, nothing more is written.
        Clock.Set(Utc(2026, 3, 1, 16, 5));
        (await MeterAsync()).ShouldBe(3 * 2);
        (await SegmentsAsync()).ShouldBe(segments);
    }

    [Fact]
    public async Task A_run_does_not_wait_for_a_change_in_progress_and_the_next_run_meters_it()
    {
        var small = await PlanAsync(5m, 0.01m);
        var large = await PlanAsync(20m, 0.04m);
        var customer = await CustomerAsync(Utc(2026, 1, 3));
        var vps = await VpsAsync(customer, small, Utc(2026, 3, 1, 9, 10));
        Clock.Set(Utc(2026, 3, 1, 10, 5));
        (await MeterAsync()).ShouldBe(1);

        // A plan change whose transaction is still open when the run comes: the run neither waits nor sees it.
        await using (var change = Db())
        {
            await using var tx = await change.Database.BeginTransactionAsync(Ct);
            await change.Vpses.Where(v => v.Id == vps).ExecuteUpdateAsync(u => u.SetProperty(v => v.PlanId, large), Ct);
            Clock.Set(Utc(2026, 3, 1, 11, 5));
            (await MeterAsync().WaitAsync(TimeSpan.FromSeconds(20), Ct)).ShouldBe(1);
            await tx.CommitAsync(Ct);
        }

        Clock.Set(Utc(2026, 3, 1, 12, 5));
        (await MeterAsync()).ShouldBe(1);
        (await MeteredHoursAsync()).OrderBy(h => h.HourStart).Select(h => h.PlanId).ShouldBe([small, small, large]);
    }
}
