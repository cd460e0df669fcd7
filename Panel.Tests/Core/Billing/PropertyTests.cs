using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>
/// Property test: random months of usage (creations, deletions and plan changes at random minutes,
/// random prices, setup fees, allowances and traffic, random credit, random tax rates and billing
/// profiles - countries, businesses with and without VAT numbers) go through the real metering and
/// invoice jobs, and every invoice must equal a reference computed here, independently, by walking
/// each VPS's life hour by hour, to the cent: lines, net, tax (reverse charge included) and gross.
/// Seeded: set PANEL_BILLING_SEED to replay a failure.
/// </summary>
public sealed class PropertyTests(BillingFixture fixture) : BillingTest(fixture)
{
    private const int Cases = 220; // one case: a customer with 1-3 VPSes over about two months
    private static readonly DateTime End = new(2026, 5, 1, 0, 30, 0, DateTimeKind.Utc);

    private sealed record PlanSpec(int Id, decimal Monthly, decimal Hourly, decimal Setup, long? Allowance, decimal? PerGb, int? Throttle);

    private sealed class VpsSpec
    {
        public int Id { get; set; }
        public DateTime Created { get; init; }
        public DateTime? Deleted { get; init; }
        public PlanSpec Plan { get; init; } = default!;
        public List<(DateTime At, PlanSpec Plan)> Changes { get; } = [];
        public Dictionary<DateTime, long> Traffic { get; } = [];
    }

    private sealed class CaseSpec
    {
        public int Index { get; init; }
        public int Seed { get; init; }
        public Guid CustomerId { get; set; }
        public DateTime SignedUp { get; init; }
        public decimal Credit { get; init; }
        public string? Country { get; init; }
        public bool Business { get; init; }
        public string? Vat { get; init; }
        public List<VpsSpec> Vpses { get; } = [];
    }

    private const string Seller = "DE";
    private static readonly string?[] ProfileCountries = [null, "DE", "FR", "NL", "AT", "US"];

    private sealed record ExpectedLine(int VpsId, InvoiceLineKind Kind, decimal Quantity, decimal Amount, decimal Cap);

    [Fact]
    public async Task Every_invoice_equals_an_hour_by_hour_reference_to_the_cent_and_no_VPS_costs_more_than_its_monthly_cap()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        void Lap(string what) => TestContext.Current.TestOutputHelper?.WriteLine($"{watch.ElapsedMilliseconds} ms: {what}");
        var seed = int.TryParse(Environment.GetEnvironmentVariable("PANEL_BILLING_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 20261125;
        var random = new Random(seed);

        // Random plans.
        var plans = new List<PlanSpec>();
        await using (var db = Db())
        {
            var rows = Enumerable.Range(0, 12).Select(_ =>
            {
                var monthly = random.Next(2) == 0 ? random.Next(100, 10_000) / 100m : random.Next(10_000, 1_000_000) / 10_000m;
                var hourly = Math.Max(0.0001m, Math.Round(monthly / random.Next(150, 1000), 4));
                var setup = random.Next(3) == 0 ? random.Next(1, 200_000) / 10_000m : 0m;
                long? allowance = random.Next(3) == 0 ? null : (long)random.Next(1, 200) << 30;
                decimal? perGb = random.Next(3) == 0 ? null : random.Next(1, 2000) / 10_000m;
                var plan = NewPlan(monthly, hourly, setup, allowance, perGb);
                if (allowance is not null && random.Next(4) == 0)
                {
                    // A throttling plan: slowed, not charged, beyond the allowance (it has no price per extra GB).
                    plan.ThrottleMbit = random.Next(1, 100);
                    plan.PricePerExtraGb = null;
                }

                return plan;
            }).ToList();
            db.Plans.AddRange(rows);
            await db.SaveChangesAsync(Ct);
            plans.AddRange(rows.Select(p => new PlanSpec(p.Id, p.MonthlyPrice, p.HourlyPrice, p.SetupFee, p.MonthlyBandwidthBytes, p.PricePerExtraGb, p.ThrottleMbit)));
        }

        // Random tax rates (2 decimals, so tax often ends in half a cent) for some countries; none for US.
        var rates = new Dictionary<string, decimal>();
        foreach (var country in new[] { "DE", "FR", "NL", "AT" })
        {
            if (random.Next(5) != 0)
            {
                rates[country] = random.Next(0, 10_001) / 100m;
                await WithAsync<TaxService, TaxRateView>(t => t.SetRateAsync(Admin, country, rates[country], null, Ct));
            }
        }

        await WithAsync<TaxService, bool>(async t => { await t.SetSellerAsync(Admin, new SellerDetails(Seller, "Seller", null, null), Ct); return true; });

        // Random customers and VPS lives.
        var cases = new List<CaseSpec>();
        for (var i = 0; i < Cases; i++)
        {
            var caseSeed = random.Next();
            var r = new Random(caseSeed);
            var signedUp = Utc(2026, 1, 1).AddMinutes(r.Next(0, 58 * 24 * 60));
            var credit = r.Next(2) == 0 ? 0m : r.Next(1, 30_000) / 100m;
            var country = ProfileCountries[r.Next(ProfileCountries.Length)];
            var business = r.Next(2) == 0;
            var vat = business && country is not null && r.Next(3) != 0 ? country + r.Next(10_000_000, 99_999_999).ToString(CultureInfo.InvariantCulture) : null;
            var c = new CaseSpec { Index = i, Seed = caseSeed, SignedUp = signedUp, Credit = credit, Country = country, Business = business, Vat = vat };
            for (var v = 1 + r.Next(3); v > 0; v--)
            {
                var from = c.SignedUp > Utc(2026, 3, 1) ? c.SignedUp : Utc(2026, 3, 1);
                var created = from.AddMinutes(r.Next(0, (int)(Utc(2026, 4, 25) - from).TotalMinutes));
                var deleted = r.Next(2) == 0 ? created.AddMinutes(r.Next(1, 40 * 24 * 60)) : (DateTime?)null;
                var vps = new VpsSpec { Created = created, Deleted = deleted < End ? deleted : null, Plan = plans[r.Next(plans.Count)] };
                var lifeEnd = vps.Deleted ?? End;
                for (var n = r.Next(3); n > 0; n--)
                {
                    vps.Changes.Add((created.AddMinutes(r.Next(1, Math.Max(2, (int)(lifeEnd - created).TotalMinutes))), plans[r.Next(plans.Count)]));
                }

                vps.Changes.Sort((a, b) => a.At.CompareTo(b.At));
                c.Vpses.Add(vps);
            }

            cases.Add(c);
        }

        // Into the database: customers, VPSes (whole lives: metering only counts what has happened by the clock), credit.
        await using (var db = Db())
        {
            var users = cases.Select(c => { var u = NewCustomer(c.SignedUp); c.CustomerId = u.Id; return u; }).ToList();
            db.Users.AddRange(users);
            var rows = cases.SelectMany(c => c.Vpses.Select(v => (v, row: NewVps(c.CustomerId, v.Plan.Id, v.Created, v.Deleted)))).ToList();
            db.Vpses.AddRange(rows.Select(x => x.row));
            db.LedgerEntries.AddRange(cases.Where(c => c.Credit > 0).Select(c => new LedgerEntry
            {
                CustomerId = c.CustomerId, At = c.SignedUp, Kind = LedgerEntryKind.CreditTopUp, Amount = c.Credit, BalanceAfter = c.Credit, ActorName = "test",
            }));
            await db.SaveChangesAsync(Ct);
            foreach (var (v, row) in rows)
            {
                v.Id = row.Id;
            }
        }

        // Billing profiles, through the service (as customers set them).
        foreach (var c in cases.Where(x => x.Country is not null))
        {
            await WithAsync<TaxService, BillingProfile>(t => t.SetProfileAsync(Admin, c.CustomerId, new BillingProfile(null, null, c.Country, c.Business, c.Vat), Ct));
        }

        Lap("set-up");

        // Time runs: before each plan change, the metering job runs at that moment (as it does hourly), then the plan changes.
        var changes = cases.SelectMany(c => c.Vpses).SelectMany(v => v.Changes.Select(ch => (ch.At, Vps: v.Id, ch.Plan))).OrderBy(ch => ch.At).ToList();
        await using (var db = Db())
        {
            foreach (var change in changes)
            {
                Clock.Set(change.At);
                await MeterAsync();
                await db.Vpses.Where(v => v.Id == change.Vps).ExecuteUpdateAsync(u => u.SetProperty(v => v.PlanId, change.Plan.Id), Ct);
            }

            Clock.Set(End);
            await MeterAsync();

            // Traffic on some hours.
            var traffic = new List<(int Vps, DateTime Hour, long Bytes)>();
            foreach (var (vps, r) in cases.SelectMany(c => c.Vpses.Select((v, n) => (v, new Random(c.Seed + n + 1)))))
            {
                var hours = Hours(vps).ToList();
                for (var n = r.Next(3) == 0 ? r.Next(1, 5) : 0; n > 0 && hours.Count > 0; n--)
                {
                    var hour = hours[r.Next(hours.Count)];
                    vps.Traffic[hour] = (long)(r.NextDouble() * (300L << 30));
                }

                traffic.AddRange(vps.Traffic.Select(t => (vps.Id, t.Key, t.Value)));
            }

            // Through the node's path: port-counter samples in those hours, their deltas counted once.
            await TrafficAsync(traffic.Select(t => (t.Vps, t.Hour.AddMinutes(30), t.Bytes)));
        }

        Lap("metering and plan changes");
        var report = await InvoiceAsync();
        report.HoursMetered.ShouldBe(0);
        Lap("invoice run");

        List<Invoice> invoices;
        List<LedgerEntry> ledger;
        await using (var db = Db())
        {
            invoices = await db.Invoices.AsNoTracking().Include(i => i.Lines).OrderBy(i => i.Id).ToListAsync(Ct);
            ledger = await db.LedgerEntries.AsNoTracking().OrderBy(e => e.Id).ToListAsync(Ct);
        }

        var checkedInvoices = 0;
        foreach (var c in cases)
        {
            var why = $"seed {seed}, case {c.Index} (case seed {c.Seed}; PANEL_BILLING_SEED={seed} replays it)";
            var expected = Reference(c);
            var actual = invoices.Where(i => i.CustomerId == c.CustomerId).OrderBy(i => i.PeriodStart).ToList();
            actual.Select(i => i.PeriodStart).ShouldBe(expected.Keys.Order(), why);

            var balance = c.Credit;
            var open = new List<(decimal Total, Invoice Invoice)>();
            var paid = new HashSet<long>();
            foreach (var invoice in actual)
            {
                var lines = expected[invoice.PeriodStart];
                var at = $"{why}, invoice {invoice.Number} for {invoice.PeriodStart:yyyy-MM-dd}";
                invoice.Lines.Select(l => (l.VpsId ?? 0, l.Kind, l.Quantity, l.Amount)).OrderBy(l => l.Item1).ThenBy(l => l.Kind)
                    .ShouldBe(lines.Select(l => (l.VpsId, l.Kind, l.Quantity, l.Amount)).OrderBy(l => l.VpsId).ThenBy(l => l.Kind), at);
                // Tax, independently: the rate of the customer's country (the seller's when none), 0 under the
                // reverse charge (a business with a VAT number outside the seller's country); once, half away from zero.
                var net = lines.Sum(l => l.Amount);
                var reverse = c.Business && c.Vat is not null && c.Country is not null && c.Country != Seller;
                var rate = reverse ? 0m : rates.GetValueOrDefault(c.Country ?? Seller);
                var tax = Math.Round(net * rate / 100m, 2, MidpointRounding.AwayFromZero);
                invoice.Net.ShouldBe(net, at);
                invoice.TaxRatePercent.ShouldBe(rate, at);
                invoice.TaxAmount.ShouldBe(tax, at);
                invoice.Total.ShouldBe(net + tax, at);
                invoice.TaxNote.ShouldBe(reverse ? "Reverse charge" : null, at);
                (invoice.PeriodEnd - invoice.PeriodStart).TotalDays.ShouldBeInRange(28, 31, at);
                foreach (var line in lines.Where(l => l.Kind == InvoiceLineKind.Hours))
                {
                    invoice.Lines.Single(l => l.VpsId == line.VpsId && l.Kind == InvoiceLineKind.Hours).Amount
                        .ShouldBeLessThanOrEqualTo(Math.Round(line.Cap, 2, MidpointRounding.AwayFromZero), $"{at}: VPS {line.VpsId} costs more than its monthly cap");
                }

                // Paid from credit, oldest first, never skipping an older open invoice.
                open.Add((invoice.Total, invoice));
                while (open.Count > 0 && open[0].Total <= balance)
                {
                    balance -= open[0].Total;
                    paid.Add(open[0].Invoice.Id);
                    open.RemoveAt(0);
                }

                checkedInvoices++;
            }

            actual.Where(i => i.Status == InvoiceStatus.Paid).Select(i => i.Id).Order().ShouldBe(paid.Order(), why);
            var entries = ledger.Where(e => e.CustomerId == c.CustomerId).ToList();
            (entries.LastOrDefault()?.BalanceAfter ?? 0m).ShouldBe(balance, why);
            entries.Sum(e => e.Amount).ShouldBe(balance, why);
        }

        checkedInvoices.ShouldBeGreaterThan(Cases);
        invoices.Select(i => i.Number).Order(StringComparer.Ordinal).ShouldBe(Enumerable.Range(1, invoices.Count).Select(n => $"INV-2026-{n:D6}"));
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {seed}: {Cases} cases, {checkedInvoices} invoices, {changes.Count} plan changes checked");
    }

    /// <summary>The hours of a VPS's life that ended by <see cref="End"/>: every UTC hour it existed in.</summary>
    private static IEnumerable<DateTime> Hours(VpsSpec vps)
    {
        var h = new DateTime(vps.Created.Year, vps.Created.Month, vps.Created.Day, vps.Created.Hour, 0, 0, DateTimeKind.Utc);
        for (; h.AddHours(1) <= End && (vps.Deleted is null || h < vps.Deleted); h = h.AddHours(1))
        {
            yield return h;
        }
    }

    /// <summary>The reference: per period start, the lines the customer's invoice must have. Plain loops over hours.</summary>
    private static Dictionary<DateTime, List<ExpectedLine>> Reference(CaseSpec c)
    {
        var billingDay = c.SignedUp.Day > 28 ? 28 : c.SignedUp.Day;
        DateTime PeriodOf(DateTime hour)
        {
            // The last billing day at or before the hour.
            var start = new DateTime(hour.Year, hour.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddDays(billingDay - 1);
            while (start > hour)
            {
                start = start.AddDays(-1);
                while (start.Day != billingDay)
                {
                    start = start.AddDays(-1);
                }
            }

            return start;
        }

        var result = new Dictionary<DateTime, List<ExpectedLine>>();
        foreach (var vps in c.Vpses)
        {
            var firstHour = true;
            var byPeriod = new SortedDictionary<DateTime, List<(DateTime Hour, PlanSpec Plan)>>();
            foreach (var hour in Hours(vps))
            {
                // The plan in force when the hour ended: the last change before its end.
                var plan = vps.Plan;
                foreach (var change in vps.Changes)
                {
                    if (change.At < hour.AddHours(1))
                    {
                        plan = change.Plan;
                    }
                }

                var period = PeriodOf(hour);
                if (period.AddMonths(1) > End)
                {
                    continue; // not ended: not invoiced yet
                }

                if (!byPeriod.TryGetValue(period, out var list))
                {
                    byPeriod[period] = list = [];
                }

                list.Add((hour, plan));
                if (firstHour && plan.Setup > 0)
                {
                    Add(period, new ExpectedLine(vps.Id, InvoiceLineKind.SetupFee, 1, Math.Round(plan.Setup, 2, MidpointRounding.AwayFromZero), 0));
                }

                firstHour = false;
            }

            foreach (var (period, hours) in byPeriod)
            {
                decimal sum = 0, cap = 0;
                long traffic = 0;
                foreach (var (hour, plan) in hours)
                {
                    sum += plan.Hourly;
                    cap = plan.Monthly > cap ? plan.Monthly : cap;
                    traffic += vps.Traffic.GetValueOrDefault(hour);
                }

                Add(period, new ExpectedLine(vps.Id, InvoiceLineKind.Hours, hours.Count, Math.Round(sum < cap ? sum : cap, 2, MidpointRounding.AwayFromZero), cap));
                var last = hours[^1].Plan;
                if (last.Throttle is null && last.Allowance is { } allowance && last.PerGb is { } perGb && perGb > 0 && traffic > allowance)
                {
                    var extraGb = Math.Ceiling((decimal)(traffic - allowance) / (1L << 30));
                    Add(period, new ExpectedLine(vps.Id, InvoiceLineKind.Bandwidth, extraGb, Math.Round(extraGb * perGb, 2, MidpointRounding.AwayFromZero), 0));
                }
            }
        }

        return result;

        void Add(DateTime period, ExpectedLine line)
        {
            if (!result.TryGetValue(period, out var lines))
            {
                result[period] = lines = [];
            }

            lines.Add(line);
        }
    }
}
