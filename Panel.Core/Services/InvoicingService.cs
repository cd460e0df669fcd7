using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
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
/// <remarks>
/// Set-based: one read finds what is due and computes every line (usage segments, plans, traffic,
/// host names, setup fees), then customers are issued <see cref="BatchSize"/> at a time, one transaction
/// per batch: the batch's accounts locked in key order (concurrent runs queue on the first they share
/// and then find the invoices issued), the existing invoices checked again, coupons, tax, the counter row
/// locked last, invoices and lines inserted together, settlement and audit entries in the same commit.
/// Usage of an ended period never changes (the meter only writes at or after its watermark), so lines
/// computed before the lock are still right under it.
/// </remarks>
public sealed class InvoicingService(
    IDbContextFactory<PanelDbContext> dbFactory,
    UsageMeter meter,
    AuditLog audit,
    TimeProvider clock,
    ILogger<InvoicingService> logger)
{
    /// <summary>Customers issued per transaction.</summary>
    internal const int BatchSize = 250;

    /// <summary>Meters usage up to now, then issues every invoice that is due.</summary>
    public async Task<InvoiceRunReport> IssueDueAsync(CancellationToken cancellationToken = default)
    {
        // Every hour of an ended period is metered before its invoice is computed.
        var metered = await meter.MeterAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        List<Due> due;
        string currency;
        TaxContext taxes;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            db.Database.SetCommandTimeout(TimeSpan.FromMinutes(10));
            // Accounts for every customer who has had a VPS (billing day from the sign-up date).
            await db.Database.ExecuteSqlInterpolatedAsync(
                $"""
                INSERT INTO billing_accounts (customer_id, billing_day, created_at)
                SELECT u.id, LEAST(EXTRACT(DAY FROM u.created_at AT TIME ZONE 'UTC')::int, {BillingRules.LastBillingDay}), {now}
                FROM users u WHERE u.id IN (SELECT DISTINCT owner_id FROM vpses)
                ON CONFLICT (customer_id) DO NOTHING
                """,
                cancellationToken);
            due = await DueAsync(db, now, cancellationToken);
            // The seller, the tax rates and the currency, read once per run.
            taxes = new TaxContext(await TaxService.SellerAsync(db, cancellationToken), await TaxService.RateTableAsync(db, cancellationToken));
            currency = await SettingsService.CurrencyAsync(db, cancellationToken);
        }

        int issued = 0, paid = 0;
        var customers = due.GroupBy(d => d.CustomerId).OrderBy(g => g.Key).ToList();
        for (var i = 0; i < customers.Count; i += BatchSize)
        {
            var (batchIssued, batchPaid) = await IssueBatchAsync(customers.Skip(i).Take(BatchSize).SelectMany(g => g).ToList(), now, taxes, currency, cancellationToken);
            issued += batchIssued;
            paid += batchPaid;
        }

        var report = new InvoiceRunReport(metered, issued, paid);
        if (issued > 0 || metered > 0)
        {
            logger.LogInformation("invoice run: {Report}", report);
        }

        return report;
    }

    /// <summary>
    /// Every (customer, ended period) with billable hours after the customer's last invoiced period, with
    /// its lines: set-based reads of accounts, segments, plans, host names, first billable hours and traffic.
    /// </summary>
    private static async Task<List<Due>> DueAsync(PanelDbContext db, DateTime now, CancellationToken cancellationToken)
    {
        var watermark = await UsageMeter.WatermarkAsync(db, cancellationToken);
        if (watermark is not { } metered)
        {
            return [];
        }

        var accounts = await db.BillingAccounts.AsNoTracking()
            .Select(a => new { a.CustomerId, a.BillingDay, LastEnd = db.Invoices.Where(i => i.CustomerId == a.CustomerId).Max(i => (DateTime?)i.PeriodEnd) })
            .ToDictionaryAsync(a => a.CustomerId, cancellationToken);
        // Billable segments that reach past their owner's last invoiced period; open ones end at the watermark.
        var segments = await db.UsageSegments.FromSql(
            $"""
            SELECT s.* FROM usage_segments s
            LEFT JOIN (SELECT customer_id, max(period_end) AS last_end FROM invoices GROUP BY customer_id) i ON i.customer_id = s.owner_id
            WHERE s.billable AND (s.to_hour IS NULL OR i.last_end IS NULL OR s.to_hour > i.last_end)
            """).AsNoTracking().ToListAsync(cancellationToken);

        var due = new List<Due>();
        foreach (var owned in segments.GroupBy(s => s.OwnerId))
        {
            if (!accounts.TryGetValue(owned.Key, out var account))
            {
                continue;
            }

            var spans = owned.Select(s => (s.VpsId, s.PlanId, From: s.FromHour, To: Min(s.ToHour ?? metered, metered))).Where(s => s.To > s.From).ToList();
            // The first billable hour at or after a moment (periods without any get no invoice).
            DateTime? FirstFrom(DateTime? at)
            {
                DateTime? first = null;
                foreach (var s in spans)
                {
                    if (at is { } a && s.To <= a)
                    {
                        continue;
                    }

                    var hour = at is { } b && b > s.From ? b : s.From;
                    first = first is { } f && f <= hour ? f : hour;
                }

                return first;
            }

            for (var next = FirstFrom(account.LastEnd);
                 next is { } hour && BillingRules.PeriodContaining(account.BillingDay, hour) is var period && period.End <= now && period.End <= metered;
                 next = FirstFrom(period.End))
            {
                var parts = spans.Select(s => (s.VpsId, s.PlanId, From: Max(s.From, period.Start), To: Min(s.To, period.End)))
                    .Where(s => s.To > s.From)
                    .GroupBy(s => (s.VpsId, s.PlanId))
                    .Select(g => new Part(g.Key.VpsId, g.Key.PlanId, g.Sum(s => (int)((s.To - s.From).Ticks / TimeSpan.TicksPerHour)), g.Min(s => s.From), g.Max(s => s.To)))
                    .ToList();
                due.Add(new Due(owned.Key, period.Start, period.End, parts));
            }
        }

        if (due.Count == 0)
        {
            return due;
        }

        var vpsIds = due.SelectMany(d => d.Parts.Select(p => p.VpsId)).Distinct().ToList();
        var planIds = due.SelectMany(d => d.Parts.Select(p => p.PlanId)).Distinct().ToList();
        var plans = await db.Plans.AsNoTracking().Where(p => planIds.Contains(p.Id)).ToDictionaryAsync(p => p.Id, cancellationToken);
        var hostnames = await db.Vpses.AsNoTracking().Where(v => vpsIds.Contains(v.Id)).ToDictionaryAsync(v => v.Id, v => v.Hostname, cancellationToken);
        // A VPS whose first billable hour ever lies in a period pays its setup fee there.
        var firstBillable = await db.UsageSegments.AsNoTracking().Where(s => s.Billable && vpsIds.Contains(s.VpsId))
            .GroupBy(s => s.VpsId).Select(g => new { g.Key, First = g.Min(s => s.FromHour) }).ToDictionaryAsync(x => x.Key, x => x.First, cancellationToken);
        var traffic = await TrafficAsync(db, due, cancellationToken);
        foreach (var d in due)
        {
            d.Lines = Lines(d, plans, hostnames, vps => firstBillable[vps] < d.Start, vps => traffic.GetValueOrDefault((vps, d.Start)));
        }

        return due;
    }

    /// <summary>Traffic per (VPS, period start) of every VPS on a due invoice: the sum of its days in the period.</summary>
    private static async Task<Dictionary<(int Vps, DateTime Start), long>> TrafficAsync(PanelDbContext db, List<Due> due, CancellationToken cancellationToken)
    {
        var keys = due.SelectMany(d => d.Parts.Select(p => p.VpsId).Distinct().Select(v => (Vps: v, d.Start, d.End))).ToList();
        var result = new Dictionary<(int, DateTime), long>();
        var conn = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand(
                """
                SELECT x.vps_id, x.start, sum(t.bytes)::bigint
                FROM unnest($1, $2, $3) AS x(vps_id, start, stop)
                JOIN vps_traffic_days t ON t.vps_id = x.vps_id AND t.day >= (x.start AT TIME ZONE 'UTC')::date AND t.day < (x.stop AT TIME ZONE 'UTC')::date
                GROUP BY x.vps_id, x.start
                """, conn, (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction());
            command.CommandTimeout = 600;
            command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Vps).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Start).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.End).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                result[(reader.GetInt32(0), DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc))] = reader.GetInt64(2);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }

        return result;
    }

    /// <summary>
    /// Issues a batch of due invoices (whole customers, in key order) in one transaction. Returns how many
    /// were issued and how many of those were paid from the balance at once.
    /// </summary>
    private async Task<(int Issued, int Paid)> IssueBatchAsync(List<Due> batch, DateTime now, TaxContext taxes, string currency, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.CustomerId).Distinct().ToList();
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        db.Database.SetCommandTimeout(TimeSpan.FromMinutes(10));
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
        // The accounts, locked in key order: a concurrent run waits here, then finds the invoices issued.
        var accounts = (await db.BillingAccounts.FromSql($"SELECT * FROM billing_accounts WHERE customer_id = ANY({ids.ToArray()}) ORDER BY customer_id FOR UPDATE")
            .AsNoTracking().ToListAsync(cancellationToken)).ToDictionary(a => a.CustomerId);
        var firstStart = batch.Min(d => d.Start);
        var existing = (await db.Invoices.AsNoTracking().Where(i => ids.Contains(i.CustomerId) && i.PeriodStart >= firstStart)
            .Select(i => new { i.CustomerId, i.PeriodStart }).ToListAsync(cancellationToken)).Select(i => (i.CustomerId, i.PeriodStart)).ToHashSet();
        var todo = batch.Where(d => d.Lines.Count > 0 && accounts.ContainsKey(d.CustomerId) && !existing.Contains((d.CustomerId, d.Start))).ToList();
        if (todo.Count == 0)
        {
            await tx.CommitAsync(cancellationToken);
            return (0, 0);
        }

        // Coupons the customers redeemed (the oldest waiting one goes into the next invoice), emails, balances, open invoices.
        var redemptions = (await (from r in db.CouponRedemptions
                                  join k in db.Coupons on r.CouponId equals k.Id
                                  where ids.Contains(r.CustomerId) && r.InvoiceId == null
                                  orderby r.Id
                                  select new { Redemption = r, k.Code, k.Kind, k.Value }).ToListAsync(cancellationToken))
            .GroupBy(r => r.Redemption.CustomerId).ToDictionary(g => g.Key, g => new Queue<(CouponRedemption Redemption, string Code, CouponKind Kind, decimal Value)>(g.Select(r => (r.Redemption, r.Code, r.Kind, r.Value))));
        var emails = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Email, cancellationToken);
        var balances = await db.LedgerEntries.AsNoTracking().Where(e => ids.Contains(e.CustomerId))
            .GroupBy(e => e.CustomerId).Select(g => new { g.Key, Balance = g.OrderByDescending(e => e.Id).Select(e => e.BalanceAfter).First() })
            .ToDictionaryAsync(x => x.Key, x => x.Balance, cancellationToken);
        var open = (await db.Invoices.AsNoTracking().Where(i => ids.Contains(i.CustomerId) && i.Status == InvoiceStatus.Open)
            .OrderBy(i => i.PeriodStart).ThenBy(i => i.Id).ToListAsync(cancellationToken)).GroupBy(i => i.CustomerId).ToDictionary(g => g.Key, g => g.ToList());

        var invoices = new List<Invoice>();
        var applied = new List<(CouponRedemption Redemption, Invoice Invoice)>();
        foreach (var d in todo)
        {
            var account = accounts[d.CustomerId];
            var lines = d.Lines.Select(l => new InvoiceLine { Kind = l.Kind, VpsId = l.VpsId, Description = l.Description, Quantity = l.Quantity, UnitPrice = l.UnitPrice, Amount = l.Amount }).ToList();

            // A coupon the customer redeemed: a discount line before tax (the oldest waiting redemption).
            var redemption = redemptions.TryGetValue(d.CustomerId, out var waiting) && waiting.Count > 0 ? waiting.Peek() : default;
            var discount = redemption.Redemption is null ? 0m : BillingRules.Discount(redemption.Kind, redemption.Value, lines.Sum(l => l.Amount));
            if (discount > 0)
            {
                var what = redemption.Kind == CouponKind.Percent ? FormattableString.Invariant($"{redemption.Value:0.##} % off") : FormattableString.Invariant($"{redemption.Value:0.00} off");
                lines.Add(new InvoiceLine { Kind = InvoiceLineKind.Discount, Description = $"Coupon {redemption.Code}: {what}", Quantity = 1, UnitPrice = -discount, Amount = -discount });
            }

            for (var i = 0; i < lines.Count; i++)
            {
                lines[i].Position = i + 1;
            }

            // Tax, once, on the net (BillingRules.TaxFor: the customer's country, or the reverse charge).
            var net = lines.Sum(l => l.Amount);
            var treatment = BillingRules.TaxFor(taxes.Seller.Country, account.Country, account.IsBusiness, account.VatNumber, taxes.Rates);
            var tax = BillingRules.Tax(net, treatment.RatePercent);
            var invoice = new Invoice
            {
                CustomerId = d.CustomerId,
                PeriodStart = d.Start,
                PeriodEnd = d.End,
                IssuedAt = now,
                DueAt = now.AddDays(BillingRules.PaymentTermDays),
                Currency = currency,
                Net = net,
                TaxRatePercent = treatment.RatePercent,
                TaxAmount = tax,
                TaxLabel = treatment.Label,
                TaxNote = treatment.Note,
                BillTo = TaxService.BillTo(account, emails.GetValueOrDefault(d.CustomerId) ?? d.CustomerId.ToString()),
                CustomerCountry = account.Country,
                CustomerVatNumber = account.IsBusiness ? account.VatNumber : null,
                Total = net + tax,
                Status = InvoiceStatus.Open,
                Lines = lines,
            };
            if (discount > 0)
            {
                waiting!.Dequeue();
                applied.Add((redemption.Redemption!, invoice));
            }

            invoices.Add(invoice);
        }

        // The year's counter row, locked last and held until the commit: concurrent issuers queue, a
        // rollback gives the numbers back. Gap-free.
        var year = now.Year;
        await db.Database.ExecuteSqlInterpolatedAsync($"INSERT INTO invoice_counters (year, last_number) VALUES ({year}, 0) ON CONFLICT (year) DO NOTHING", cancellationToken);
        var counter = await db.InvoiceCounters.FromSql($"SELECT * FROM invoice_counters WHERE year = {year} FOR UPDATE").AsNoTracking().SingleAsync(cancellationToken);
        var sequence = counter.LastNumber;
        foreach (var invoice in invoices)
        {
            invoice.Number = BillingRules.InvoiceNumber(year, ++sequence);
        }

        await db.InvoiceCounters.Where(c => c.Year == year).ExecuteUpdateAsync(s => s.SetProperty(c => c.LastNumber, sequence), cancellationToken);
        await InsertAsync(db, invoices, cancellationToken);
        foreach (var (redemption, invoice) in applied)
        {
            redemption.InvoiceId = invoice.Id; // tracked: saved with the settlement
        }

        // Settlement from the balance: per customer, open invoices oldest first (the new ones last),
        // stopping at the first the balance does not cover (Ledger.SettleAsync's rule).
        var settled = new List<Invoice>();
        var issuedIds = invoices.Select(i => i.Id).ToHashSet();
        foreach (var customer in invoices.GroupBy(i => i.CustomerId))
        {
            var balance = balances.GetValueOrDefault(customer.Key);
            foreach (var invoice in open.GetValueOrDefault(customer.Key, []).Concat(customer.OrderBy(i => i.PeriodStart)))
            {
                if (invoice.Total > balance)
                {
                    break;
                }

                if (invoice.Total > 0)
                {
                    balance = Ledger.Append(db, customer.Key, LedgerEntryKind.InvoiceCharge, -invoice.Total, balance, invoice.Id, invoice.Number, Actor.System.Name, now);
                }

                settled.Add(invoice);
            }
        }

        var settledIds = settled.Select(i => i.Id).ToList();
        if (settledIds.Count > 0)
        {
            await db.Invoices.Where(i => settledIds.Contains(i.Id))
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.Status, InvoiceStatus.Paid).SetProperty(i => i.PaidAt, now), cancellationToken);
        }

        var paidNow = settled.Where(i => issuedIds.Contains(i.Id)).Select(i => i.Id).ToHashSet();
        foreach (var invoice in invoices)
        {
            audit.Add(db, Actor.System, AuditActions.InvoiceIssued, $"invoice:{invoice.Id}",
                FormattableString.Invariant($"{invoice.Number} for user:{invoice.CustomerId}, {invoice.PeriodStart:yyyy-MM-dd} to {invoice.PeriodEnd:yyyy-MM-dd}: {invoice.Total:0.00} {invoice.Currency}{(paidNow.Contains(invoice.Id) ? ", paid from the balance" : "")}"));
        }

        foreach (var other in settled.Where(i => !issuedIds.Contains(i.Id)))
        {
            audit.Add(db, Actor.System, AuditActions.InvoicePaid, $"invoice:{other.Id}", FormattableString.Invariant($"{other.Number}: {other.Total:0.00} from the balance"));
        }

        await db.SaveChangesAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (invoices.Count, paidNow.Count);
    }

    /// <summary>
    /// Inserts the batch's invoices and their lines in one round trip (two set-based statements: the lines
    /// find their invoice by its number) and sets each invoice's id. Unique (customer, period start) and
    /// unique numbers still hold: a violation rolls the batch back, its numbers with it.
    /// </summary>
    private static async Task InsertAsync(PanelDbContext db, List<Invoice> invoices, CancellationToken cancellationToken)
    {
        var conn = (NpgsqlConnection)db.Database.GetDbConnection();
        await using var batch = new NpgsqlBatch(conn, (NpgsqlTransaction)db.Database.CurrentTransaction!.GetDbTransaction());
        var insert = new NpgsqlBatchCommand(
            """
            INSERT INTO invoices (number, customer_id, period_start, period_end, issued_at, due_at, currency, net, tax_rate_percent, tax_amount,
                                  tax_label, tax_note, bill_to, customer_country, customer_vat_number, total, status)
            SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
            RETURNING id, number
            """);
        Add(insert, invoices.Select(i => i.Number), NpgsqlDbType.Text);
        Add(insert, invoices.Select(i => i.CustomerId), NpgsqlDbType.Uuid);
        Add(insert, invoices.Select(i => i.PeriodStart), NpgsqlDbType.TimestampTz);
        Add(insert, invoices.Select(i => i.PeriodEnd), NpgsqlDbType.TimestampTz);
        Add(insert, invoices.Select(i => i.IssuedAt), NpgsqlDbType.TimestampTz);
        Add(insert, invoices.Select(i => i.DueAt), NpgsqlDbType.TimestampTz);
        Add(insert, invoices.Select(i => i.Currency), NpgsqlDbType.Text);
        Add(insert, invoices.Select(i => i.Net), NpgsqlDbType.Numeric);
        Add(insert, invoices.Select(i => i.TaxRatePercent), NpgsqlDbType.Numeric);
        Add(insert, invoices.Select(i => i.TaxAmount), NpgsqlDbType.Numeric);
        Add(insert, invoices.Select(i => i.TaxLabel), NpgsqlDbType.Text);
        Add(insert, invoices.Select(i => i.TaxNote), NpgsqlDbType.Text);
        Add(insert, invoices.Select(i => i.BillTo), NpgsqlDbType.Text);
        Add(insert, invoices.Select(i => i.CustomerCountry), NpgsqlDbType.Text);
        Add(insert, invoices.Select(i => i.CustomerVatNumber), NpgsqlDbType.Text);
        Add(insert, invoices.Select(i => i.Total), NpgsqlDbType.Numeric);
        Add(insert, invoices.Select(i => i.Status.ToString()), NpgsqlDbType.Text);
        batch.BatchCommands.Add(insert);

        var lines = invoices.SelectMany(i => i.Lines.Select(l => (i.Number, Line: l))).ToList();
        var insertLines = new NpgsqlBatchCommand(
            """
            INSERT INTO invoice_lines (invoice_id, position, kind, vps_id, description, quantity, unit_price, amount)
            SELECT i.id, x.position, x.kind, x.vps_id, x.description, x.quantity, x.unit_price, x.amount
            FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) AS x(number, position, kind, vps_id, description, quantity, unit_price, amount)
            JOIN invoices i ON i.number = x.number
            """);
        Add(insertLines, lines.Select(l => l.Number), NpgsqlDbType.Text);
        Add(insertLines, lines.Select(l => l.Line.Position), NpgsqlDbType.Integer);
        Add(insertLines, lines.Select(l => l.Line.Kind.ToString()), NpgsqlDbType.Text);
        Add(insertLines, lines.Select(l => l.Line.VpsId), NpgsqlDbType.Integer);
        Add(insertLines, lines.Select(l => l.Line.Description), NpgsqlDbType.Text);
        Add(insertLines, lines.Select(l => l.Line.Quantity), NpgsqlDbType.Numeric);
        Add(insertLines, lines.Select(l => l.Line.UnitPrice), NpgsqlDbType.Numeric);
        Add(insertLines, lines.Select(l => l.Line.Amount), NpgsqlDbType.Numeric);
        batch.BatchCommands.Add(insertLines);

        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                ids[reader.GetString(1)] = reader.GetInt64(0);
            }
        }

        foreach (var invoice in invoices)
        {
            invoice.Id = ids[invoice.Number];
            foreach (var line in invoice.Lines)
            {
                line.InvoiceId = invoice.Id;
            }
        }

        static void Add<T>(NpgsqlBatchCommand command, IEnumerable<T> values, NpgsqlDbType type)
            => command.Parameters.Add(new NpgsqlParameter { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | type });
    }

    /// <summary>The lines of a customer's period, per VPS (by id): hours (capped), setup fee, traffic beyond the allowance.</summary>
    private static List<LineSpec> Lines(Due due, Dictionary<int, Plan> plans, Dictionary<int, string> hostnames, Func<int, bool> startedBefore, Func<int, long> traffic)
    {
        var lines = new List<LineSpec>();
        foreach (var vps in due.Parts.GroupBy(s => s.VpsId).OrderBy(g => g.Key))
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

            lines.Add(new LineSpec(InvoiceLineKind.Hours, vps.Key, Limit(text.ToString()), hours,
                parts.Select(p => p.PlanId).Distinct().Count() == 1 ? plans[parts[0].PlanId].HourlyPrice : null, BillingRules.RoundLine(exact)));

            var firstPlan = plans[parts[0].PlanId];
            if (!startedBefore(vps.Key) && firstPlan.SetupFee > 0)
            {
                lines.Add(new LineSpec(InvoiceLineKind.SetupFee, vps.Key, Limit($"{host}: setup ({firstPlan.Name})"), 1, firstPlan.SetupFee, BillingRules.RoundLine(firstPlan.SetupFee)));
            }

            var lastPlan = plans[parts.MaxBy(p => p.LastHour)!.PlanId];
            var extraGb = BillingRules.ExtraGb(traffic(vps.Key), lastPlan.MonthlyBandwidthBytes);
            if (extraGb > 0 && BillingRules.ExtraGbPrice(lastPlan) is { } perGb)
            {
                lines.Add(new LineSpec(InvoiceLineKind.Bandwidth, vps.Key,
                    Limit(FormattableString.Invariant($"{host}: traffic beyond {lastPlan.MonthlyBandwidthBytes / BillingRules.BytesPerGb} GB ({lastPlan.Name})")),
                    extraGb, perGb, BillingRules.RoundLine(extraGb * perGb)));
            }
        }

        return lines;
    }

    private static string Limit(string s) => s.Length <= 1000 ? s : s[..999] + "…";

    private static DateTime Min(DateTime a, DateTime b) => a < b ? a : b;

    private static DateTime Max(DateTime a, DateTime b) => a > b ? a : b;

    private sealed record TaxContext(SellerDetails Seller, IReadOnlyDictionary<string, (decimal Percent, string Label)> Rates);

    /// <summary>A VPS's billable hours on one plan in one period: how many, the first one's start and the last one's end.</summary>
    private sealed record Part(int VpsId, int PlanId, int Hours, DateTime FirstHour, DateTime LastHour);

    private sealed record LineSpec(InvoiceLineKind Kind, int? VpsId, string Description, decimal Quantity, decimal? UnitPrice, decimal Amount);

    /// <summary>One invoice to issue: a customer's ended period, its usage and (once computed) its lines.</summary>
    private sealed record Due(Guid CustomerId, DateTime Start, DateTime End, List<Part> Parts)
    {
        public List<LineSpec> Lines { get; set; } = [];
    }
}
