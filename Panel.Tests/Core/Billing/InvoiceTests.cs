using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>The invoice job: lines, rounding, payment from credit, idempotence and gap-free numbers.</summary>
public sealed class InvoiceTests(BillingFixture fixture) : BillingTest(fixture)
{
    [Fact]
    public async Task A_throttling_plan_charges_no_traffic_beyond_its_allowance_and_excludes_a_price_per_extra_GB()
    {
        var plan = await PlanAsync(10.00m, 0.0200m, allowanceBytes: 100L << 30);
        await using (var db = Db())
        {
            await db.Plans.Where(p => p.Id == plan).ExecuteUpdateAsync(u => u.SetProperty(p => p.ThrottleMbit, 10), Ct);
        }

        var customer = await CustomerAsync(Utc(2026, 1, 15, 9)); // billing day 15
        var vps = await VpsAsync(customer, plan, Utc(2026, 1, 20));
        Clock.Set(Utc(2026, 2, 15, 0, 20));
        await MeterAsync();
        await TrafficAsync([(vps, Utc(2026, 2, 1, 12, 30), 150L << 30)]); // 50 GB beyond the allowance: slowed, not charged

        (await InvoiceAsync()).Issued.ShouldBe(1);
        var invoice = (await WithAsync<BillingService, IReadOnlyList<InvoiceView>>(b => b.InvoicesAsync(Admin, customer, Ct))).Single();
        invoice.Lines.Select(l => (l.VpsId, l.Kind, l.Amount)).ShouldBe([(vps, InvoiceLineKind.Hours, 10.00m)]);

        // The database refuses a throttle beside a price per extra GB, and the catalog says why.
        await using (var db = Db())
        {
            await Should.ThrowAsync<Npgsql.PostgresException>(() => db.Plans.Where(p => p.Id == plan).ExecuteUpdateAsync(u => u.SetProperty(p => p.PricePerExtraGb, 0.01m), Ct));
        }

        var catalog = (PlanInput input) => WithAsync<CatalogService, int>(c => c.CreatePlanAsync(Admin, input, Ct));
        var prices = new PlanPrices(10m, 0.02m, 0m, 0.01m);
        (await Should.ThrowAsync<PanelRefusedException>(() => catalog(new PlanInput("t1", Panel.Hypervisor.Instances.VirtualizationKind.Container, 1, 512, 5, PortSpeedMbit: 100, MonthlyBandwidthGiB: 100, Prices: prices, ThrottleMbit: 10))))
            .Message.ShouldContain("either throttles or charges per extra GB");
        (await Should.ThrowAsync<PanelRefusedException>(() => catalog(new PlanInput("t2", Panel.Hypervisor.Instances.VirtualizationKind.Container, 1, 512, 5, PortSpeedMbit: 100, ThrottleMbit: 10))))
            .Message.ShouldContain("needs a traffic allowance");
        (await Should.ThrowAsync<PanelRefusedException>(() => catalog(new PlanInput("t3", Panel.Hypervisor.Instances.VirtualizationKind.Container, 1, 512, 5, PortSpeedMbit: 100, MonthlyBandwidthGiB: 100, ThrottleMbit: 100))))
            .Message.ShouldContain("below the port speed");
        var ok = await catalog(new PlanInput("t4", Panel.Hypervisor.Instances.VirtualizationKind.Container, 1, 512, 5, PortSpeedMbit: 100, MonthlyBandwidthGiB: 100, Prices: prices with { PricePerExtraGb = null }, ThrottleMbit: 10));
        await using (var db = Db())
        {
            (await db.Plans.SingleAsync(p => p.Id == ok, Ct)).ThrottleMbit.ShouldBe(10);
        }
    }

    [Fact]
    public async Task A_worked_example_caps_hours_charges_setup_and_traffic_and_rounds_each_line_half_away_from_zero()
    {
        var planA = await PlanAsync(10.00m, 0.0200m, allowanceBytes: 100L << 30, perGb: 0.015m);
        var planB = await PlanAsync(10.00m, 0.0125m, setup: 2.505m);
        var customer = await CustomerAsync(Utc(2026, 1, 15, 9)); // billing day 15
        var capped = await VpsAsync(customer, planA, Utc(2026, 1, 20));
        var fresh = await VpsAsync(customer, planB, Utc(2026, 2, 20, 10, 30));
        var balance = await WithAsync<BillingService, BalanceView>(b => b.TopUpAsync(Admin, customer, 25.00m, "prepaid", Ct));
        balance.Balance.ShouldBe(25.00m);

        // Traffic: 150 GiB + 1 byte in February's period = 51 started GB beyond the 100 GiB allowance.
        Clock.Set(Utc(2026, 3, 15, 0, 20));
        await MeterAsync();
        await TrafficAsync([(capped, Utc(2026, 3, 1, 12, 30), (150L << 30) + 1)]);

        var report = await InvoiceAsync();
        report.Issued.ShouldBe(2);
        report.PaidFromCredit.ShouldBe(1);
        var invoices = (await WithAsync<BillingService, IReadOnlyList<InvoiceView>>(b => b.InvoicesAsync(Admin, customer, Ct))).OrderBy(i => i.PeriodStart).ToList();
        invoices.Select(i => i.Number).ShouldBe(["INV-2026-000001", "INV-2026-000002"]);

        var january = invoices[0];
        (january.PeriodStart, january.PeriodEnd).ShouldBe((Utc(2026, 1, 15), Utc(2026, 2, 15)));
        january.Lines.Select(l => (l.VpsId, l.Kind, l.Quantity, l.Amount)).ShouldBe([(capped, InvoiceLineKind.Hours, 624m, 10.00m)]); // 624 h × 0.02 = 12.48, capped
        january.Total.ShouldBe(10.00m);
        january.Status.ShouldBe(InvoiceStatus.Paid); // from the 25.00 credit
        january.Currency.ShouldBe("EUR");

        var february = invoices[1];
        february.Lines.Select(l => (l.VpsId, l.Kind, l.Quantity, l.Amount)).OrderBy(l => l.VpsId).ThenBy(l => l.Kind).ToList().ShouldBe(new (int?, InvoiceLineKind, decimal, decimal)[]
        {
            (capped, InvoiceLineKind.Hours, 672m, 10.00m),     // 13.44 capped at 10.00
            (capped, InvoiceLineKind.Bandwidth, 51m, 0.77m),   // 0.765 → 0.77 (banker's rounding would give 0.76)
            (fresh, InvoiceLineKind.Hours, 542m, 6.78m),       // 542 × 0.0125 = 6.775 → 6.78
            (fresh, InvoiceLineKind.SetupFee, 1m, 2.51m),      // 2.505 → 2.51 (banker's: 2.50)
        }.OrderBy(l => l.Item1).ThenBy(l => l.Item2).ToList());
        february.Lines.Single(l => l.Kind == InvoiceLineKind.Hours && l.VpsId == capped).Description.ShouldContain("capped");
        february.Total.ShouldBe(20.06m);
        february.Status.ShouldBe(InvoiceStatus.Open); // 15.00 left does not cover it
        february.DueAt.ShouldBe(Utc(2026, 3, 29, 0, 20));

        // A manual payment of the difference settles it from the balance.
        var paid = await WithAsync<BillingService, PaymentResult>(b => b.RecordPaymentAsync(Admin, february.Id, 5.06m, "bank 42", Ct));
        paid.InvoicePaid.ShouldBeTrue();
        paid.Balance.ShouldBe(0m);
        var ledger = await WithAsync<BillingService, IReadOnlyList<LedgerEntryView>>(b => b.LedgerAsync(new Actor(customer, "c", false), customer, Ct));
        ledger.Select(e => (e.Kind, e.Amount, e.BalanceAfter)).ShouldBe([
            (LedgerEntryKind.CreditTopUp, 25.00m, 25.00m),
            (LedgerEntryKind.InvoiceCharge, -10.00m, 15.00m),
            (LedgerEntryKind.Payment, 5.06m, 20.06m),
            (LedgerEntryKind.InvoiceCharge, -20.06m, 0m),
        ]);

        // The next run, the same day, issues nothing.
        (await InvoiceAsync()).Issued.ShouldBe(0);
    }

    [Fact]
    public async Task The_first_catalog_has_prices_whose_hours_reach_the_monthly_cap_within_a_month()
    {
        await WithAsync<CatalogService, bool>(async c => { await c.SeedDefaultsAsync(Ct); return true; });
        await using var db = Db();
        var seeded = await db.Plans.AsNoTracking().Where(p => p.Name.StartsWith("Container") || p.Name.StartsWith("Para") || p.Name.StartsWith("VM")).ToListAsync(Ct);
        seeded.Count.ShouldBe(4);
        seeded.ShouldAllBe(p => p.MonthlyPrice > 0 && p.HourlyPrice > 0 && p.HourlyPrice * 600 < p.MonthlyPrice && p.HourlyPrice * 730 >= p.MonthlyPrice);
    }

    [Fact]
    public async Task The_invoice_job_run_twice_late_and_concurrently_issues_each_invoice_once_with_gap_free_numbers()
    {
        var random = new Random(11);
        var plans = new[] { await PlanAsync(6m, 0.01m), await PlanAsync(20m, 0.05m, setup: 3m) };
        var customers = new List<(Guid Id, int Day)>();
        await using (var db = Db())
        {
            for (var c = 0; c < 30; c++)
            {
                var user = NewCustomer(Utc(2026, 1, 1).AddDays(random.Next(0, 31)).AddHours(random.Next(24)));
                db.Users.Add(user);
                customers.Add((user.Id, Math.Min(user.CreatedAt.Day, 28)));
                for (var v = 0; v < 1 + random.Next(3); v++)
                {
                    var created = user.CreatedAt.AddHours(random.Next(1, 60 * 24));
                    DateTime? deleted = random.Next(3) != 0 ? created.AddHours(random.Next(1, 90 * 24)) : null; // most are gone before the late run's long catch-up
                    db.Vpses.Add(NewVps(user.Id, plans[random.Next(2)], created, deleted));
                }
            }

            await db.SaveChangesAsync(Ct);
        }

        // Expected: one invoice per customer and ended period holding a billable hour.
        async Task<int> ExpectedAsync()
        {
            await using var db = Db();
            var now = Clock.UtcNow;
            var periods = new HashSet<(Guid, DateTime)>();
            var days = customers.ToDictionary(c => c.Id, c => c.Day);
            foreach (var v in await db.Vpses.AsNoTracking().ToListAsync(Ct))
            {
                var day = days[v.OwnerId];
                for (var h = v.CreatedAt.AddTicks(-(v.CreatedAt.Ticks % TimeSpan.TicksPerHour)); h.AddHours(1) <= now && (v.DeletedAt is null || h < v.DeletedAt); h = h.AddHours(1))
                {
                    var start = new DateTime(h.Year, h.Month, day, 0, 0, 0, DateTimeKind.Utc);
                    start = h >= start ? start : start.AddMonths(-1);
                    if (start.AddMonths(1) <= now)
                    {
                        periods.Add((v.OwnerId, start));
                    }
                }
            }

            return periods.Count;
        }

        async Task<List<Invoice>> InvoicesAsync()
        {
            await using var db = Db();
            return await db.Invoices.AsNoTracking().OrderBy(i => i.Id).ToListAsync(Ct);
        }

        static void GapFree(IEnumerable<Invoice> invoices)
        {
            foreach (var year in invoices.GroupBy(i => i.IssuedAt.Year))
            {
                year.Select(i => i.Number).Order(StringComparer.Ordinal).ShouldBe(
                    Enumerable.Range(1, year.Count()).Select(n => $"INV-{year.Key}-{n:D6}"), $"numbers of {year.Key} are 1..{year.Count()} with no gap or repeat");
            }
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        void Lap(string what) => TestContext.Current.TestOutputHelper?.WriteLine($"{watch.ElapsedMilliseconds} ms: {what}");

        // Concurrently, on separate scopes: 4 runs at once after three months.
        Clock.Set(Utc(2026, 4, 1, 0, 20));
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(InvoiceAsync, Ct)));
        Lap("4 concurrent runs");
        var expected = await ExpectedAsync();
        Lap("expected");
        expected.ShouldBeGreaterThan(30);
        runs.Sum(r => r.Issued).ShouldBe(expected);
        var invoices = await InvoicesAsync();
        invoices.Count.ShouldBe(expected);
        invoices.GroupBy(i => (i.CustomerId, i.PeriodStart)).ShouldAllBe(g => g.Count() == 1);
        GapFree(invoices);

        // Twice: nothing new.
        (await InvoiceAsync()).Issued.ShouldBe(0);

        // Late: the clock jumps into the next year; the run catches up (numbers of the new year start at 1).
        Clock.Set(Utc(2027, 1, 9, 3, 0));
        Lap("checks");
        var late = await Task.WhenAll(Task.Run(InvoiceAsync, Ct), Task.Run(InvoiceAsync, Ct));
        Lap("2 late runs");
        invoices = await InvoicesAsync();
        invoices.Count.ShouldBe(await ExpectedAsync());
        late.Sum(r => r.Issued).ShouldBe(invoices.Count - expected);
        invoices.ShouldContain(i => i.Number == "INV-2027-000001");
        GapFree(invoices);

        // Hours: no (VPS, hour) was charged twice - each invoice's hour lines add up to the metered hours of its period.
        await using (var db = Db())
        {
            var charged = await db.InvoiceLines.Where(l => l.Kind == InvoiceLineKind.Hours).SumAsync(l => l.Quantity, Ct);
            var hours = await MeteredHoursAsync();
            var ended = invoices.Sum(i => hours.Count(u => u.OwnerId == i.CustomerId && u.Billable && u.HourStart >= i.PeriodStart && u.HourStart < i.PeriodEnd));
            charged.ShouldBe(ended);
            Lap("hours check");
        }
    }
}
