using Microsoft.EntityFrameworkCore;
using Panel.Core.Billing;
using Panel.Core.Domain.Billing;

namespace Panel.Core.Services;

/// <summary>What the billing pages read: paged lists, this period's usage, revenue, the PDF.</summary>
public sealed partial class BillingService
{
    /// <summary>One page of invoices, newest first: a customer's own, or for admins anyone's (filtered by customer, status, number or email).</summary>
    public async Task<(int Total, IReadOnlyList<InvoiceRow> Rows)> InvoicePageAsync(Actor actor, InvoiceQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var caller = Require.User(actor);
        var customerId = query.CustomerId;
        if (!actor.IsAdmin)
        {
            if (customerId is { } c && c != caller)
            {
                throw new PanelNotFoundException("No such customer.");
            }

            customerId = caller;
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = from i in db.Invoices.AsNoTracking()
                   join u in db.Users on i.CustomerId equals u.Id
                   select new { i, u.Email };
        if (customerId is { } id)
        {
            rows = rows.Where(x => x.i.CustomerId == id);
        }

        if (query.Status is { } status)
        {
            rows = rows.Where(x => x.i.Status == status);
        }

        if (actor.IsAdmin && query.Search?.Trim() is { Length: > 0 } search)
        {
            var pattern = "%" + search.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
            rows = rows.Where(x => EF.Functions.ILike(x.i.Number, pattern) || EF.Functions.ILike(x.Email!, pattern));
        }

        var total = await rows.CountAsync(cancellationToken);
        var page = await rows.OrderByDescending(x => x.i.IssuedAt).ThenByDescending(x => x.i.Id).Skip(Math.Max(0, query.Skip)).Take(Math.Clamp(query.Take, 1, 200))
            .Select(x => new { x.i.Id, x.i.Number, x.i.CustomerId, x.Email, x.i.PeriodStart, x.i.IssuedAt, x.i.DueAt, x.i.Net, x.i.TaxAmount, x.i.Total, x.i.Currency, x.i.Status, x.i.PaidAt })
            .ToListAsync(cancellationToken);
        var credited = await CreditedAsync(db, page.Select(p => p.Id).ToList(), cancellationToken);
        return (total, page.Select(p => new InvoiceRow(p.Id, p.Number, p.CustomerId, p.Email ?? "", p.PeriodStart, p.IssuedAt, p.DueAt, p.Net, p.TaxAmount, p.Total,
            credited.GetValueOrDefault(p.Id), p.Currency, p.Status, p.PaidAt)).ToList());
    }

    /// <summary>One page of a customer's ledger, newest first: their own for customers, anyone's for admins.</summary>
    public async Task<(int Total, IReadOnlyList<LedgerEntryView> Rows)> LedgerPageAsync(Actor actor, Guid customerId, int skip = 0, int take = 25, CancellationToken cancellationToken = default)
    {
        Require.SelfOrAdmin(actor, customerId);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var entries = db.LedgerEntries.AsNoTracking().Where(e => e.CustomerId == customerId);
        var total = await entries.CountAsync(cancellationToken);
        var rows = await entries.OrderByDescending(e => e.Id).Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 200))
            .Select(e => new LedgerEntryView(e.Id, e.At, e.Kind, e.Amount, e.BalanceAfter, e.InvoiceId, e.Reference, e.ActorName)).ToListAsync(cancellationToken);
        return (total, rows);
    }

    /// <summary>
    /// A customer's usage in the running billing period (their own, or anyone's for admins): per VPS the
    /// billable hours metered so far and their cost, capped and rounded as its invoice line will be.
    /// </summary>
    public async Task<UsageView> UsageAsync(Actor actor, Guid customerId, CancellationToken cancellationToken = default)
    {
        Require.SelfOrAdmin(actor, customerId);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        var day = await db.BillingAccounts.Where(a => a.CustomerId == customerId).Select(a => (int?)a.BillingDay).FirstOrDefaultAsync(cancellationToken);
        if (day is null)
        {
            var signedUp = await db.Users.Where(u => u.Id == customerId).Select(u => (DateTime?)u.CreatedAt).FirstOrDefaultAsync(cancellationToken);
            day = signedUp is { } at ? BillingRules.BillingDayFor(at) : 1;
        }

        var (start, end) = BillingRules.PeriodContaining(day.Value, now);
        var (segments, watermark) = await UsageMeter.SegmentsAsync(db, null, customerId, start, end, cancellationToken);
        var parts = segments.Where(s => s.Billable).Select(s => (s.VpsId, s.PlanId, Hours: s.HoursIn(start, end, watermark), Last: s.ToHour ?? watermark))
            .Where(s => s.Hours > 0).ToList();
        var planIds = parts.Select(s => s.PlanId).Distinct().ToList();
        var vpsIds = parts.Select(s => s.VpsId).Distinct().ToList();
        var plans = await db.Plans.AsNoTracking().Where(p => planIds.Contains(p.Id)).ToDictionaryAsync(p => p.Id, cancellationToken);
        var hosts = await db.Vpses.AsNoTracking().Where(v => vpsIds.Contains(v.Id)).ToDictionaryAsync(v => v.Id, v => v.Hostname, cancellationToken);
        var traffic = await TrafficMeter.BytesAsync(db, vpsIds, start, end, cancellationToken);
        var vpses = parts.GroupBy(s => s.VpsId).OrderBy(g => hosts[g.Key], StringComparer.Ordinal).Select(g =>
        {
            // Traffic beyond the allowance of the plan it has now (the invoice takes the plan of the period's last hour).
            var last = plans[g.MaxBy(s => s.Last).PlanId];
            var bytes = traffic.GetValueOrDefault(g.Key);
            var extraGb = BillingRules.ExtraGb(bytes, last.MonthlyBandwidthBytes);
            var trafficCost = BillingRules.ExtraGbPrice(last) is { } perGb ? BillingRules.RoundLine(extraGb * perGb) : 0m;
            return new VpsUsageView(
                g.Key, hosts[g.Key], g.Sum(s => s.Hours),
                BillingRules.RoundLine(BillingRules.HoursCost(g.GroupBy(s => s.PlanId).Select(p => (p.Sum(s => s.Hours), plans[p.Key].HourlyPrice, plans[p.Key].MonthlyPrice)))),
                g.Max(s => plans[s.PlanId].MonthlyPrice), bytes, last.MonthlyBandwidthBytes, trafficCost);
        }).ToList();
        return new UsageView(start, end, await SettingsService.CurrencyAsync(db, cancellationToken), vpses, vpses.Sum(v => v.Cost + v.TrafficCost));
    }

    /// <summary>Revenue per month of issue, newest first (admins): invoiced, paid, open, credited.</summary>
    public async Task<IReadOnlyList<RevenueMonth>> RevenueAsync(Actor actor, int months = 12, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        var from = new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1 - Math.Clamp(months, 1, 120));
        var invoiced = await db.Invoices.AsNoTracking().Where(i => i.IssuedAt >= from)
            .GroupBy(i => new { i.IssuedAt.Year, i.IssuedAt.Month })
            .Select(g => new
            {
                g.Key.Year, g.Key.Month, Count = g.Count(), Total = g.Sum(i => i.Total),
                Paid = g.Sum(i => i.Status == InvoiceStatus.Paid ? i.Total : 0m), Open = g.Sum(i => i.Status == InvoiceStatus.Open ? i.Total : 0m),
            }).ToListAsync(cancellationToken);
        var credited = await db.CreditNotes.AsNoTracking().Where(c => c.IssuedAt >= from)
            .GroupBy(c => new { c.IssuedAt.Year, c.IssuedAt.Month }).Select(g => new { g.Key.Year, g.Key.Month, Sum = g.Sum(c => c.Amount) }).ToListAsync(cancellationToken);
        return invoiced.Select(x => (x.Year, x.Month)).Union(credited.Select(x => (x.Year, x.Month))).OrderByDescending(m => m).Select(m =>
        {
            var i = invoiced.FirstOrDefault(x => x.Year == m.Year && x.Month == m.Month);
            var c = credited.FirstOrDefault(x => x.Year == m.Year && x.Month == m.Month);
            return new RevenueMonth(new DateTime(m.Year, m.Month, 1, 0, 0, 0, DateTimeKind.Utc), i?.Count ?? 0, i?.Total ?? 0, i?.Paid ?? 0, i?.Open ?? 0, c?.Sum ?? 0);
        }).ToList();
    }

    /// <summary>A customer's id by their email (admins; for top-ups).</summary>
    /// <exception cref="PanelRefusedException">No account has that email.</exception>
    public async Task<Guid> CustomerByEmailAsync(Actor actor, string email, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        var normalized = (email ?? "").Trim().ToUpperInvariant();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Users.Where(u => u.NormalizedEmail == normalized).Select(u => (Guid?)u.Id).FirstOrDefaultAsync(cancellationToken)
               ?? throw new PanelRefusedException("No account has that email.", "Email");
    }

    /// <summary>An invoice as a PDF document: its owner or an admin (anyone else: not found).</summary>
    /// <exception cref="PanelNotFoundException">Not the caller's invoice, or none.</exception>
    public async Task<(string FileName, byte[] Pdf)> InvoicePdfAsync(Actor actor, long invoiceId, CancellationToken cancellationToken = default)
    {
        var invoice = await InvoiceAsync(actor, invoiceId, cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var seller = await TaxService.SellerAsync(db, cancellationToken);
        var notes = await CreditNotesAsync(Actor.System, invoice.CustomerId, invoiceId, cancellationToken);
        return (invoice.Number + ".pdf", InvoicePdf.Render(invoice, seller, notes));
    }
}
