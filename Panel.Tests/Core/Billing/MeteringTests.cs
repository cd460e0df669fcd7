using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;

namespace Panel.Tests.Core.Billing;

/// <summary>The metering job: which hours count, and each (VPS, hour) once however the job runs.</summary>
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
}
