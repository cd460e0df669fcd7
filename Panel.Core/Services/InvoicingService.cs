using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>
/// Issues invoices: for each customer, every billing period that has ended, holds billable hours and
/// has no invoice yet (so a late run catches up, and a second or concurrent run issues nothing twice:
/// one invoice per (customer, period start), checked under the customer's account lock and enforced
/// by a unique index). Lines follow <see cref="BillingRules"/>; the number comes from the year's
/// counter row, locked in the same transaction, so numbers are gap-free. An invoice the customer's
/// balance covers is paid from it at once.
/// </summary>
public sealed class InvoicingService(
    IDbContextFactory<PanelDbContext> dbFactory,
    UsageMeter meter,
    AuditLog audit,
    TimeProvider clock,
    ILogger<InvoicingService> logger)
{
    /// <summary>Meters usage up to now, then issues every invoice that is due.</summary>
    public async Task<InvoiceRunReport> IssueDueAsync(CancellationToken cancellationToken = default)
    {
        // Every hour of an ended period is recorded before its invoice is computed.
        var metered = await meter.MeterAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);

        // Accounts for every customer who has had a VPS (billing day from the sign-up date).
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            INSERT INTO billing_accounts (customer_id, billing_day, created_at)
            SELECT u.id, LEAST(EXTRACT(DAY FROM u.created_at AT TIME ZONE 'UTC')::int, {BillingRules.LastBillingDay}), {now}
            FROM users u WHERE u.id IN (SELECT DISTINCT owner_id FROM vpses)
            ON CONFLICT (customer_id) DO NOTHING
            """,
            cancellationToken);

        // Per account: the first billable hour after its last invoiced period.
        var candidates = await (
            from a in db.BillingAccounts
            let lastEnd = db.Invoices.Where(i => i.CustomerId == a.CustomerId).Max(i => (DateTime?)i.PeriodEnd)
            let first = db.UsageHours.Where(u => u.OwnerId == a.CustomerId && u.Billable && (lastEnd == null || u.HourStart >= lastEnd)).Min(u => (DateTime?)u.HourStart)
            where first != null
            select new { a.CustomerId, a.BillingDay, First = first!.Value }).ToListAsync(cancellationToken);

        // The seller and the tax rates, read once per run.
        var taxes = new TaxContext(await TaxService.SellerAsync(db, cancellationToken), await TaxService.RateTableAsync(db, cancellationToken));
        int issued = 0, paid = 0;
        foreach (var c in candidates.OrderBy(c => c.CustomerId))
        {
            DateTime? next = c.First;
            while (next is { } hour && BillingRules.PeriodContaining(c.BillingDay, hour) is var period && period.End <= now)
            {
                var result = await IssueAsync(c.CustomerId, period.Start, period.End, now, taxes, cancellationToken);
                if (result is not null)
                {
                    issued++;
                    paid += result.Value.Paid ? 1 : 0;
                }

                // The next period with a billable hour (periods without any get no invoice).
                next = await db.UsageHours.Where(u => u.OwnerId == c.CustomerId && u.Billable && u.HourStart >= period.End).MinAsync(u => (DateTime?)u.HourStart, cancellationToken);
            }
        }

        var report = new InvoiceRunReport(metered, issued, paid);
        if (issued > 0 || metered > 0)
        {
            logger.LogInformation("invoice run: {Report}", report);
        }

        return report;
    }

    /// <summary>Issues one customer's invoice for one period, unless it exists or the period has no billable hours.</summary>
    private async Task<(Invoice Invoice, bool Paid)?> IssueAsync(Guid customerId, DateTime start, DateTime end, DateTime now, TaxContext taxes, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        var account = await BillingService.LockAccountAsync(db, customerId, now, cancellationToken);
        if (await db.Invoices.AnyAsync(i => i.CustomerId == customerId && i.PeriodStart == start, cancellationToken))
        {
            return null;
        }

        var lines = await LinesAsync(db, customerId, start, end, cancellationToken);
        if (lines.Count == 0)
        {
            return null;
        }

        // A coupon the customer redeemed: a discount line before tax (the oldest waiting redemption).
        var redemption = await (from r in db.CouponRedemptions
                                join k in db.Coupons on r.CouponId equals k.Id
                                where r.CustomerId == customerId && r.InvoiceId == null
                                orderby r.Id
                                select new { r.Id, k.Code, k.Kind, k.Value }).FirstOrDefaultAsync(cancellationToken);
        var discount = redemption is null ? 0m : BillingRules.Discount(redemption.Kind, redemption.Value, lines.Sum(l => l.Amount));
        if (discount > 0)
        {
            var what = redemption!.Kind == CouponKind.Percent ? FormattableString.Invariant($"{redemption.Value:0.##} % off") : FormattableString.Invariant($"{redemption.Value:0.00} off");
            lines.Add(new InvoiceLine { Kind = InvoiceLineKind.Discount, Description = $"Coupon {redemption.Code}: {what}", Quantity = 1, UnitPrice = -discount, Amount = -discount, Position = lines.Count + 1 });
        }

        // Tax, once, on the net (BillingRules.TaxFor: the customer's country, or the reverse charge).
        var net = lines.Sum(l => l.Amount);
        var treatment = BillingRules.TaxFor(taxes.Seller.Country, account.Country, account.IsBusiness, account.VatNumber, taxes.Rates);
        var tax = BillingRules.Tax(net, treatment.RatePercent);
        var email = await db.Users.Where(u => u.Id == customerId).Select(u => u.Email).FirstOrDefaultAsync(cancellationToken) ?? customerId.ToString();

        var year = now.Year;
        await db.Database.ExecuteSqlInterpolatedAsync($"INSERT INTO invoice_counters (year, last_number) VALUES ({year}, 0) ON CONFLICT (year) DO NOTHING", cancellationToken);
        // The counter row stays locked until this transaction ends: the next invoice waits for it, and
        // a rollback gives the number back. Gap-free.
        var counter = await db.InvoiceCounters.FromSql($"SELECT * FROM invoice_counters WHERE year = {year} FOR UPDATE").AsNoTracking().ToListAsync(cancellationToken);
        var sequence = counter.Single().LastNumber + 1;
        await db.InvoiceCounters.Where(c => c.Year == year).ExecuteUpdateAsync(s => s.SetProperty(c => c.LastNumber, sequence), cancellationToken);

        var invoice = new Invoice
        {
            Number = BillingRules.InvoiceNumber(year, sequence),
            CustomerId = customerId,
            PeriodStart = start,
            PeriodEnd = end,
            IssuedAt = now,
            DueAt = now.AddDays(BillingRules.PaymentTermDays),
            Currency = await SettingsService.CurrencyAsync(db, cancellationToken),
            Net = net,
            TaxRatePercent = treatment.RatePercent,
            TaxAmount = tax,
            TaxLabel = treatment.Label,
            TaxNote = treatment.Note,
            BillTo = TaxService.BillTo(account, email),
            CustomerCountry = account.Country,
            CustomerVatNumber = account.IsBusiness ? account.VatNumber : null,
            Total = net + tax,
            Status = InvoiceStatus.Open,
            Lines = lines,
        };
        db.Invoices.Add(invoice);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Cannot happen under the account lock; if it does, the rollback returns the number.
            return null;
        }

        if (discount > 0)
        {
            await db.CouponRedemptions.Where(r => r.Id == redemption!.Id).ExecuteUpdateAsync(u => u.SetProperty(r => r.InvoiceId, invoice.Id), cancellationToken);
        }

        // Oldest first: the new invoice is paid from the balance once older open ones are.
        var settled = await Ledger.SettleAsync(db, customerId, null, Actor.System.Name, now, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        var paid = settled.Any(i => i.Id == invoice.Id);
        await audit.RecordAsync(Actor.System, AuditActions.InvoiceIssued, $"invoice:{invoice.Id}",
            FormattableString.Invariant($"{invoice.Number} for user:{customerId}, {start:yyyy-MM-dd} to {end:yyyy-MM-dd}: {invoice.Total:0.00} {invoice.Currency}{(paid ? ", paid from the balance" : "")}"), cancellationToken);
        foreach (var other in settled.Where(i => i.Id != invoice.Id))
        {
            await audit.RecordAsync(Actor.System, AuditActions.InvoicePaid, $"invoice:{other.Id}", FormattableString.Invariant($"{other.Number}: {other.Total:0.00} from the balance"), cancellationToken);
        }

        return (invoice, paid);
    }

    /// <summary>The lines of a customer's period, per VPS (by id): hours (capped), setup fee, traffic beyond the allowance.</summary>
    private static async Task<List<InvoiceLine>> LinesAsync(PanelDbContext db, Guid customerId, DateTime start, DateTime end, CancellationToken cancellationToken)
    {
        var segments = await db.UsageHours.AsNoTracking()
            .Where(u => u.OwnerId == customerId && u.Billable && u.HourStart >= start && u.HourStart < end)
            .GroupBy(u => new { u.VpsId, u.PlanId })
            .Select(g => new Segment(g.Key.VpsId, g.Key.PlanId, g.Count(), g.Min(u => u.HourStart), g.Max(u => u.HourStart), g.Sum(u => u.BandwidthBytes ?? 0)))
            .ToListAsync(cancellationToken);
        if (segments.Count == 0)
        {
            return [];
        }

        var vpsIds = segments.Select(s => s.VpsId).Distinct().ToList();
        var planIds = segments.Select(s => s.PlanId).Distinct().ToList();
        // A VPS whose first billable hour ever lies in this period pays its setup fee here.
        var startedBefore = await db.UsageHours.AsNoTracking()
            .Where(u => vpsIds.Contains(u.VpsId) && u.Billable && u.HourStart < start)
            .Select(u => u.VpsId).Distinct().ToListAsync(cancellationToken);
        var plans = await db.Plans.AsNoTracking().Where(p => planIds.Contains(p.Id)).ToDictionaryAsync(p => p.Id, cancellationToken);
        var hostnames = await db.Vpses.AsNoTracking().Where(v => vpsIds.Contains(v.Id)).ToDictionaryAsync(v => v.Id, v => v.Hostname, cancellationToken);

        var lines = new List<InvoiceLine>();
        foreach (var vps in segments.GroupBy(s => s.VpsId).OrderBy(g => g.Key))
        {
            var parts = vps.OrderBy(s => s.FirstHour).ToList();
            var host = hostnames[vps.Key];
            var hours = parts.Sum(p => p.Hours);
            var exact = BillingRules.HoursCost(parts.Select(p => (p.Hours, plans[p.PlanId].HourlyPrice, plans[p.PlanId].MonthlyPrice)));
            var uncapped = parts.Sum(p => p.Hours * plans[p.PlanId].HourlyPrice);
            var text = new StringBuilder(host).Append(": ");
            text.AppendJoin(", ", parts.Select(p => FormattableString.Invariant($"{plans[p.PlanId].Name} {p.Hours} h × {plans[p.PlanId].HourlyPrice:0.0000}")));
            if (exact < uncapped)
            {
                text.Append(CultureInfo.InvariantCulture, $", capped at the monthly price {parts.Max(p => plans[p.PlanId].MonthlyPrice):0.00}");
            }

            lines.Add(new InvoiceLine
            {
                Kind = InvoiceLineKind.Hours, VpsId = vps.Key, Description = Limit(text.ToString()), Quantity = hours,
                UnitPrice = parts.Select(p => p.PlanId).Distinct().Count() == 1 ? plans[parts[0].PlanId].HourlyPrice : null,
                Amount = BillingRules.RoundLine(exact),
            });

            var firstPlan = plans[parts[0].PlanId];
            if (!startedBefore.Contains(vps.Key) && firstPlan.SetupFee > 0)
            {
                lines.Add(new InvoiceLine
                {
                    Kind = InvoiceLineKind.SetupFee, VpsId = vps.Key, Description = Limit($"{host}: setup ({firstPlan.Name})"), Quantity = 1,
                    UnitPrice = firstPlan.SetupFee, Amount = BillingRules.RoundLine(firstPlan.SetupFee),
                });
            }

            var lastPlan = plans[parts.MaxBy(p => p.LastHour)!.PlanId];
            var traffic = parts.Sum(p => p.BandwidthBytes);
            var extraGb = BillingRules.ExtraGb(traffic, lastPlan.MonthlyBandwidthBytes);
            if (extraGb > 0 && lastPlan.PricePerExtraGb is { } perGb && perGb > 0)
            {
                lines.Add(new InvoiceLine
                {
                    Kind = InvoiceLineKind.Bandwidth, VpsId = vps.Key,
                    Description = Limit(FormattableString.Invariant($"{host}: traffic beyond {lastPlan.MonthlyBandwidthBytes / BillingRules.BytesPerGb} GB ({lastPlan.Name})")),
                    Quantity = extraGb, UnitPrice = perGb, Amount = BillingRules.RoundLine(extraGb * perGb),
                });
            }
        }

        for (var i = 0; i < lines.Count; i++)
        {
            lines[i].Position = i + 1;
        }

        return lines;
    }

    private static string Limit(string s) => s.Length <= 1000 ? s : s[..999] + "…";

    private sealed record TaxContext(SellerDetails Seller, IReadOnlyDictionary<string, (decimal Percent, string Label)> Rates);

    private sealed record Segment(int VpsId, int PlanId, int Hours, DateTime FirstHour, DateTime LastHour, long BandwidthBytes);
}
