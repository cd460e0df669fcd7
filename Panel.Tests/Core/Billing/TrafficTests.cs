using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Metrics;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>
/// Traffic from the nodes' port counters (<see cref="TrafficMeter"/>, the metrics job's path): each sample's
/// delta once, per VPS and UTC day - repeated, late, concurrent and restarted counters included.
/// </summary>
public sealed class TrafficTests(BillingFixture fixture) : BillingTest(fixture)
{
    [Fact]
    public async Task Each_sample_adds_its_counter_delta_once_and_a_counter_that_went_back_counts_whole()
    {
        var plan = await PlanAsync(5m, 0.01m);
        var customer = await CustomerAsync(Utc(2026, 1, 3));
        var vps = await VpsAsync(customer, plan, Utc(2026, 3, 1, 9, 10));
        var other = await VpsAsync(customer, plan, Utc(2026, 3, 1, 9, 10));
        static VpsMetric Sample(int v, DateTime at, long rx, long tx) => new() { VpsId = v, At = at, RxBytes = rx, TxBytes = tx };
        async Task<int> RecordAsync(params VpsMetric[] samples)
        {
            await using var db = Db();
            return await TrafficMeter.RecordAsync(db, samples, Ct);
        }

        async Task<Dictionary<DateOnly, long>> DaysAsync(int v)
        {
            await using var db = Db();
            return await db.VpsTrafficDays.Where(t => t.VpsId == v).ToDictionaryAsync(t => t.Day, t => t.Bytes, Ct);
        }

        var march1 = new DateOnly(2026, 3, 1);
        var march2 = new DateOnly(2026, 3, 2);
        (await RecordAsync(Sample(vps, Utc(2026, 3, 1, 23, 58), 1000, 500))).ShouldBe(1);                                        // the first counts whole: 1500
        (await RecordAsync(Sample(vps, Utc(2026, 3, 1, 23, 59), 1600, 700), Sample(other, Utc(2026, 3, 1, 23, 59), 10, 10))).ShouldBe(2); // +800; the other VPS 20
        (await RecordAsync(Sample(vps, Utc(2026, 3, 1, 23, 59), 1600, 700))).ShouldBe(0);                                        // the same minute again: nothing
        (await RecordAsync(Sample(vps, Utc(2026, 3, 1, 23, 57), 900, 400))).ShouldBe(1);                                         // older than the last counted: stored, adds nothing
        (await RecordAsync(Sample(vps, Utc(2026, 3, 2, 0, 1), 300, 200))).ShouldBe(1);                                           // the guest restarted: 500 whole, on March 2
        (await RecordAsync(Sample(vps, Utc(2026, 3, 2, 0, 2), 400, 200), Sample(vps, Utc(2026, 3, 2, 0, 3), 450, 250))).ShouldBe(2); // +100, +100 in one batch
        (await DaysAsync(vps)).ShouldBe(new Dictionary<DateOnly, long> { [march1] = 2300, [march2] = 700 }, ignoreOrder: true);
        (await DaysAsync(other)).ShouldBe(new Dictionary<DateOnly, long> { [march1] = 20 }, ignoreOrder: true);

        // Two nodes' runs at once with the same minute's sample: one stores it, it counts once.
        (await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => RecordAsync(Sample(vps, Utc(2026, 3, 2, 0, 4), 1450, 250)), Ct)))).Sum().ShouldBe(1);
        (await DaysAsync(vps))[march2].ShouldBe(1700);

        // Runs of different minutes at once: whichever commits first, together they add what the counters moved.
        await Task.WhenAll(
            Task.Run(() => RecordAsync(Sample(vps, Utc(2026, 3, 2, 0, 5), 2000, 300)), Ct),
            Task.Run(() => RecordAsync(Sample(vps, Utc(2026, 3, 2, 0, 6), 2500, 400)), Ct));
        (await DaysAsync(vps))[march2].ShouldBe(1700 + (2900 - 1700));
        await using var check = Db();
        (await check.VpsTrafficCounters.SingleAsync(c => c.VpsId == vps, Ct)).ShouldSatisfyAllConditions(
            c => c.At.ShouldBe(Utc(2026, 3, 2, 0, 6)), c => c.RxBytes.ShouldBe(2500), c => c.TxBytes.ShouldBe(400));
        (await check.VpsMetrics.CountAsync(m => m.VpsId == vps, Ct)).ShouldBe(9);
    }
}
