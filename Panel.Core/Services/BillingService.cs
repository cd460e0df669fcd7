using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>
/// Balances, the ledger and payments. The ledger is append-only: this service only ever inserts rows
/// (a database trigger refuses updates and deletes). Everything that touches a customer's money runs
/// in one transaction holding the customer's <see cref="BillingAccount"/> row <c>FOR UPDATE</c>.
/// Admins record top-ups and payments; customers read their own balance, ledger and invoices.
/// </summary>
public sealed partial class BillingService(IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, TimeProvider clock, DunningService dunning)
{
    /// <summary>Adds credit to a customer's balance (admins; audited). Open invoices the new balance covers are settled, oldest first.</summary>
    /// <exception cref="PanelRefusedException">A bad amount or an unknown customer; nothing changed.</exception>
    public async Task<BalanceView> TopUpAsync(Actor actor, Guid customerId, decimal amount, string? reference = null, CancellationToken cancellationToken = default)
    {
        await audit.RequireAdminAsync(actor, AuditActions.BillingRefused, $"user:{customerId}", "credit top-up", cancellationToken);
        try
        {
            Money.CheckAmount(amount);
            var text = CheckReference(reference);
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            if (!await db.Users.AnyAsync(u => u.Id == customerId, cancellationToken))
            {
                throw new PanelRefusedException("No such customer.", "CustomerId");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            await LockAccountAsync(db, customerId, now, cancellationToken);
            var balance = await Ledger.BalanceAsync(db, customerId, cancellationToken);
            balance = Ledger.Append(db, customerId, LedgerEntryKind.CreditTopUp, amount, balance, null, text, actor.Name, now);
            await db.SaveChangesAsync(cancellationToken);
            var paid = await Ledger.SettleAsync(db, customerId, null, actor.Name, now, cancellationToken);
            await tx.CommitAsync(cancellationToken);
            await audit.RecordAsync(actor, AuditActions.CreditTopUp, $"user:{customerId}", FormattableString.Invariant($"+{amount:0.00}{(text is null ? "" : " (" + text + ")")}"), cancellationToken);
            await AuditPaidAsync(paid, cancellationToken);
            await LiftDunningAsync(customerId, paid, cancellationToken);
            return await BalanceCoreAsync(db, customerId, cancellationToken);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.BillingRefused, $"user:{customerId}", "credit top-up: " + ex.Message, cancellationToken);
            throw;
        }
    }

    /// <summary>
    /// Records a payment received for an invoice (admins; audited): the amount is credited, then the
    /// invoice is settled if the balance covers it (an overpayment stays as credit; a partial one waits
    /// as credit for the rest).
    /// </summary>
    /// <exception cref="PanelRefusedException">A bad amount, an unknown invoice or one already paid; nothing changed.</exception>
    public async Task<PaymentResult> RecordPaymentAsync(Actor actor, long invoiceId, decimal amount, string? reference = null, CancellationToken cancellationToken = default)
    {
        await audit.RequireAdminAsync(actor, AuditActions.BillingRefused, $"invoice:{invoiceId}", "payment", cancellationToken);
        try
        {
            Money.CheckAmount(amount);
            var text = CheckReference(reference);
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var customerId = await db.Invoices.Where(i => i.Id == invoiceId).Select(i => (Guid?)i.CustomerId).FirstOrDefaultAsync(cancellationToken)
                             ?? throw new PanelRefusedException("No such invoice.", "InvoiceId");
            var now = clock.GetUtcNow().UtcDateTime;
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            await LockAccountAsync(db, customerId, now, cancellationToken);
            // Read under the lock: two payments for one invoice cannot both pass this check.
            var invoice = await db.Invoices.AsNoTracking().FirstAsync(i => i.Id == invoiceId, cancellationToken);
            if (invoice.Status == InvoiceStatus.Paid)
            {
                throw new PanelRefusedException(FormattableString.Invariant($"Invoice {invoice.Number} is already paid ({invoice.PaidAt:yyyy-MM-dd HH:mm} UTC)."), "InvoiceId");
            }

            var balance = await Ledger.BalanceAsync(db, customerId, cancellationToken);
            Ledger.Append(db, customerId, LedgerEntryKind.Payment, amount, balance, invoiceId, text, actor.Name, now);
            await db.SaveChangesAsync(cancellationToken);
            var paid = await Ledger.SettleAsync(db, customerId, invoiceId, actor.Name, now, cancellationToken);
            await tx.CommitAsync(cancellationToken);
            await audit.RecordAsync(actor, AuditActions.PaymentRecorded, $"invoice:{invoiceId}",
                FormattableString.Invariant($"{invoice.Number}: {amount:0.00} received{(text is null ? "" : " (" + text + ")")}"), cancellationToken);
            await AuditPaidAsync(paid, cancellationToken);
            await LiftDunningAsync(customerId, paid, cancellationToken);
            return new PaymentResult(invoiceId, paid.Any(p => p.Id == invoiceId), await Ledger.BalanceAsync(db, customerId, cancellationToken));
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.BillingRefused, $"invoice:{invoiceId}", "payment: " + ex.Message, cancellationToken);
            throw;
        }
    }

    /// <summary>A customer's balance: their own for customers, anyone's for admins.</summary>
    public async Task<BalanceView> BalanceAsync(Actor actor, Guid customerId, CancellationToken cancellationToken = default)
    {
        Require.SelfOrAdmin(actor, customerId);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await BalanceCoreAsync(db, customerId, cancellationToken);
    }

    /// <summary>A customer's ledger, oldest first: their own for customers, anyone's for admins.</summary>
    public async Task<IReadOnlyList<LedgerEntryView>> LedgerAsync(Actor actor, Guid customerId, CancellationToken cancellationToken = default)
    {
        Require.SelfOrAdmin(actor, customerId);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.LedgerEntries.AsNoTracking().Where(e => e.CustomerId == customerId).OrderBy(e => e.Id)
            .Select(e => new LedgerEntryView(e.Id, e.At, e.Kind, e.Amount, e.BalanceAfter, e.InvoiceId, e.Reference, e.ActorName))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Invoices, newest first: a customer's own, or for admins anyone's (<paramref name="customerId"/>) or all.</summary>
    public async Task<IReadOnlyList<InvoiceView>> InvoicesAsync(Actor actor, Guid? customerId = null, CancellationToken cancellationToken = default)
    {
        var caller = Require.User(actor);
        if (!actor.IsAdmin)
        {
            if (customerId is { } c && c != caller)
            {
                throw new PanelNotFoundException("No such customer.");
            }

            customerId = caller;
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var query = db.Invoices.AsNoTracking().Include(i => i.Lines).AsQueryable();
        if (customerId is { } id)
        {
            query = query.Where(i => i.CustomerId == id);
        }

        var invoices = await query.OrderByDescending(i => i.IssuedAt).ThenByDescending(i => i.Id).Take(1000).ToListAsync(cancellationToken);
        var credited = await CreditedAsync(db, invoices.Select(i => i.Id).ToList(), cancellationToken);
        return invoices.Select(i => View(i) with { Credited = credited.GetValueOrDefault(i.Id) }).ToList();
    }

    /// <summary>One invoice: customers see only their own (anything else is "not found").</summary>
    public async Task<InvoiceView> InvoiceAsync(Actor actor, long invoiceId, CancellationToken cancellationToken = default)
    {
        var caller = Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var invoice = await db.Invoices.AsNoTracking().Include(i => i.Lines).FirstOrDefaultAsync(i => i.Id == invoiceId, cancellationToken);
        if (invoice is null || (!actor.IsAdmin && invoice.CustomerId != caller))
        {
            throw new PanelNotFoundException("No such invoice.");
        }

        var credited = await db.CreditNotes.Where(c => c.InvoiceId == invoiceId).SumAsync(c => c.Amount, cancellationToken);
        return View(invoice) with { Credited = credited };
    }

    internal static InvoiceView View(Invoice i) => new(i.Id, i.Number, i.CustomerId, i.PeriodStart, i.PeriodEnd, i.IssuedAt, i.DueAt, i.Currency, i.Total, i.Status, i.PaidAt,
        i.Lines.OrderBy(l => l.Position).Select(l => new InvoiceLineView(l.Kind, l.VpsId, l.Description, l.Quantity, l.UnitPrice, l.Amount)).ToList(),
        i.Net, i.TaxRatePercent, i.TaxAmount, i.TaxLabel, i.TaxNote, i.BillTo);

    /// <summary>
    /// Opens the customer's billing account if needed (billing day from the sign-up date) and locks it
    /// for the caller's transaction. Returns the account.
    /// </summary>
    internal static async Task<BillingAccount> LockAccountAsync(PanelDbContext db, Guid customerId, DateTime now, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            INSERT INTO billing_accounts (customer_id, billing_day, created_at)
            SELECT u.id, LEAST(EXTRACT(DAY FROM u.created_at AT TIME ZONE 'UTC')::int, {BillingRules.LastBillingDay}), {now} FROM users u WHERE u.id = {customerId}
            ON CONFLICT (customer_id) DO NOTHING
            """,
            cancellationToken);
        var rows = await db.BillingAccounts.FromSql($"SELECT * FROM billing_accounts WHERE customer_id = {customerId} FOR UPDATE").AsNoTracking().ToListAsync(cancellationToken);
        return rows.Count == 1 ? rows[0] : throw new PanelRefusedException("No such customer.", "CustomerId");
    }

    private static async Task<BalanceView> BalanceCoreAsync(PanelDbContext db, Guid customerId, CancellationToken cancellationToken)
    {
        var balance = await Ledger.BalanceAsync(db, customerId, cancellationToken);
        var open = await db.Invoices.Where(i => i.CustomerId == customerId && i.Status == InvoiceStatus.Open).SumAsync(i => i.Total, cancellationToken);
        return new BalanceView(customerId, balance, await SettingsService.CurrencyAsync(db, cancellationToken), open);
    }

    private async Task AuditPaidAsync(IReadOnlyList<Invoice> paid, CancellationToken cancellationToken)
    {
        foreach (var invoice in paid)
        {
            await audit.RecordAsync(Actor.System, AuditActions.InvoicePaid, $"invoice:{invoice.Id}", FormattableString.Invariant($"{invoice.Number}: {invoice.Total:0.00} from the balance"), cancellationToken);
        }
    }

    /// <summary>Invoices became paid: dunning lifts its suspensions at once if nothing overdue is left.</summary>
    private Task LiftDunningAsync(Guid customerId, IReadOnlyList<Invoice> paid, CancellationToken cancellationToken)
        => paid.Count == 0 ? Task.CompletedTask : dunning.LiftIfPaidAsync(customerId, cancellationToken);



    private static string? CheckReference(string? reference)
    {
        var text = reference?.Trim();
        if (text is { Length: > 500 })
        {
            throw new PanelRefusedException("A reference is at most 500 characters.", "Reference");
        }

        return string.IsNullOrEmpty(text) ? null : text;
    }
}

/// <summary>The ledger's primitives, used inside a transaction that holds the customer's account lock.</summary>
internal static class Ledger
{
    /// <summary>The customer's balance: the last entry's balance (0 without entries).</summary>
    public static async Task<decimal> BalanceAsync(PanelDbContext db, Guid customerId, CancellationToken cancellationToken)
        => await db.LedgerEntries.Where(e => e.CustomerId == customerId).OrderByDescending(e => e.Id).Select(e => (decimal?)e.BalanceAfter).FirstOrDefaultAsync(cancellationToken) ?? 0m;

    /// <summary>Adds one entry (saved by the caller); returns the new balance.</summary>
    public static decimal Append(PanelDbContext db, Guid customerId, LedgerEntryKind kind, decimal amount, decimal balance, long? invoiceId, string? reference, string actorName, DateTime now)
    {
        var after = balance + amount;
        if (after < 0)
        {
            throw new InvalidOperationException("A ledger entry would take the balance below 0.");
        }

        db.LedgerEntries.Add(new LedgerEntry
        {
            CustomerId = customerId, At = now, Kind = kind, Amount = amount, BalanceAfter = after, InvoiceId = invoiceId,
            Reference = reference, ActorName = actorName.Length <= 256 ? actorName : actorName[..256],
        });
        return after;
    }

    /// <summary>
    /// Settles the customer's open invoices from the balance: <paramref name="first"/> first, then the
    /// oldest, stopping at the first the balance does not cover (never skipping ahead, except that an
    /// invoice of 0.00 is always settled: nothing is owed on it). Each settled invoice gets an
    /// <see cref="LedgerEntryKind.InvoiceCharge"/> of its total (none for 0.00). Returns them.
    /// </summary>
    public static async Task<IReadOnlyList<Invoice>> SettleAsync(PanelDbContext db, Guid customerId, long? first, string actorName, DateTime now, CancellationToken cancellationToken)
    {
        var open = await db.Invoices.AsNoTracking().Where(i => i.CustomerId == customerId && i.Status == InvoiceStatus.Open)
            .OrderBy(i => i.PeriodStart).ThenBy(i => i.Id).ToListAsync(cancellationToken);
        if (first is { } f && open.FindIndex(i => i.Id == f) is var at and > 0)
        {
            var preferred = open[at];
            open.RemoveAt(at);
            open.Insert(0, preferred);
        }

        var balance = await BalanceAsync(db, customerId, cancellationToken);
        var paid = new List<Invoice>();
        var blocked = false; // the first invoice the balance does not cover blocks every later one...
        foreach (var invoice in open)
        {
            if (invoice.Total > 0)
            {
                if (blocked || invoice.Total > balance)
                {
                    blocked = true;
                    continue; // ...but not one of 0.00 (a coupon covered it all): nothing is owed on it
                }

                balance = Append(db, customerId, LedgerEntryKind.InvoiceCharge, -invoice.Total, balance, invoice.Id, invoice.Number, actorName, now);
            }

            await db.Invoices.Where(i => i.Id == invoice.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.Status, InvoiceStatus.Paid).SetProperty(i => i.PaidAt, now), cancellationToken);
            invoice.Status = InvoiceStatus.Paid;
            invoice.PaidAt = now;
            paid.Add(invoice);
        }

        await db.SaveChangesAsync(cancellationToken);
        return paid;
    }
}
