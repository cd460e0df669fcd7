using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>Credit notes and paying an invoice from credit.</summary>
public sealed partial class BillingService
{
    /// <summary>
    /// Issues a credit note against an issued invoice (admins; audited): its own gap-free number
    /// (<c>CN-YYYY-NNNNNN</c>), an amount of at most what the invoice has left after earlier credit
    /// notes, credited to the customer's ledger (open invoices the balance then covers are settled). The
    /// invoice itself stays as issued.
    /// </summary>
    /// <exception cref="PanelRefusedException">A bad amount or reason, an unknown invoice, more than it has left; nothing changed.</exception>
    public async Task<CreditNoteView> IssueCreditNoteAsync(Actor actor, long invoiceId, decimal amount, string reason, CancellationToken cancellationToken = default)
    {
        await audit.RequireAdminAsync(actor, AuditActions.BillingRefused, $"invoice:{invoiceId}", "credit note", cancellationToken);
        try
        {
            Money.CheckAmount(amount);
            var why = (reason ?? "").Trim();
            if (why.Length is 0 or > 500 || why.Any(char.IsControl))
            {
                throw new PanelRefusedException("Say why, in 1-500 characters on one line.", "Reason");
            }

            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var customerId = await db.Invoices.Where(i => i.Id == invoiceId).Select(i => (Guid?)i.CustomerId).FirstOrDefaultAsync(cancellationToken)
                             ?? throw new PanelRefusedException("No such invoice.", "InvoiceId");
            var now = clock.GetUtcNow().UtcDateTime;
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            await LockAccountAsync(db, customerId, now, cancellationToken);
            // Under the account lock: two credit notes for one invoice cannot both pass this check.
            var invoice = await db.Invoices.AsNoTracking().FirstAsync(i => i.Id == invoiceId, cancellationToken);
            var credited = await db.CreditNotes.Where(c => c.InvoiceId == invoiceId).SumAsync(c => c.Amount, cancellationToken);
            var remaining = invoice.Total - credited;
            if (amount > remaining)
            {
                throw new PanelRefusedException(FormattableString.Invariant($"Invoice {invoice.Number} has {remaining:0.00} {invoice.Currency} left to credit (total {invoice.Total:0.00}, credited {credited:0.00})."), "Amount");
            }

            var year = now.Year;
            await db.Database.ExecuteSqlInterpolatedAsync($"INSERT INTO credit_note_counters (year, last_number) VALUES ({year}, 0) ON CONFLICT (year) DO NOTHING", cancellationToken);
            // Locked until commit: gap-free, as invoice numbers.
            var counter = await db.CreditNoteCounters.FromSql($"SELECT * FROM credit_note_counters WHERE year = {year} FOR UPDATE").AsNoTracking().ToListAsync(cancellationToken);
            var sequence = counter.Single().LastNumber + 1;
            await db.CreditNoteCounters.Where(c => c.Year == year).ExecuteUpdateAsync(s => s.SetProperty(c => c.LastNumber, sequence), cancellationToken);
            var note = new CreditNote
            {
                Number = BillingRules.CreditNoteNumber(year, sequence), InvoiceId = invoiceId, CustomerId = customerId, IssuedAt = now, Amount = amount,
                Reason = why, ActorName = actor.Name.Length <= 256 ? actor.Name : actor.Name[..256],
            };
            db.CreditNotes.Add(note);
            var balance = await Ledger.BalanceAsync(db, customerId, cancellationToken);
            Ledger.Append(db, customerId, LedgerEntryKind.CreditNote, amount, balance, invoiceId, note.Number, actor.Name, now);
            await db.SaveChangesAsync(cancellationToken);
            var paid = await Ledger.SettleAsync(db, customerId, invoiceId, actor.Name, now, cancellationToken);
            await tx.CommitAsync(cancellationToken);
            await audit.RecordAsync(actor, AuditActions.CreditNoteIssued, $"invoice:{invoiceId}", FormattableString.Invariant($"{note.Number} for {invoice.Number}: {amount:0.00} ({why})"), cancellationToken);
            await AuditPaidAsync(paid, cancellationToken);
            return new CreditNoteView(note.Id, note.Number, invoiceId, invoice.Number, customerId, now, amount, why, note.ActorName);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.BillingRefused, $"invoice:{invoiceId}", "credit note: " + ex.Message, cancellationToken);
            throw;
        }
    }

    /// <summary>Credit notes, newest first: a customer's own, or for admins those of one customer or invoice, or all.</summary>
    public async Task<IReadOnlyList<CreditNoteView>> CreditNotesAsync(Actor actor, Guid? customerId = null, long? invoiceId = null, CancellationToken cancellationToken = default)
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
        var query = db.CreditNotes.AsNoTracking();
        if (customerId is { } id)
        {
            query = query.Where(n => n.CustomerId == id);
        }

        if (invoiceId is { } inv)
        {
            query = query.Where(n => n.InvoiceId == inv);
        }

        return await query.OrderByDescending(n => n.Id).Take(500)
            .Join(db.Invoices, n => n.InvoiceId, i => i.Id, (n, i) => new CreditNoteView(n.Id, n.Number, n.InvoiceId, i.Number, n.CustomerId, n.IssuedAt, n.Amount, n.Reason, n.ActorName))
            .ToListAsync(cancellationToken);
    }

    /// <summary>
    /// Pays an open invoice from the customer's balance now (its owner or an admin; audited), even when an
    /// older open invoice waits. Refused when it is paid or the balance does not cover it.
    /// </summary>
    /// <exception cref="PanelRefusedException">Paid already, or not enough credit; nothing changed.</exception>
    /// <exception cref="PanelNotFoundException">Not the caller's invoice.</exception>
    public async Task<PaymentResult> PayFromCreditAsync(Actor actor, long invoiceId, CancellationToken cancellationToken = default)
    {
        var caller = Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var customerId = await db.Invoices.Where(i => i.Id == invoiceId).Select(i => (Guid?)i.CustomerId).FirstOrDefaultAsync(cancellationToken);
        if (customerId is null || (!actor.IsAdmin && customerId != caller))
        {
            throw new PanelNotFoundException("No such invoice.");
        }

        try
        {
            var now = clock.GetUtcNow().UtcDateTime;
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            await LockAccountAsync(db, customerId.Value, now, cancellationToken);
            var invoice = await db.Invoices.AsNoTracking().FirstAsync(i => i.Id == invoiceId, cancellationToken);
            if (invoice.Status == InvoiceStatus.Paid)
            {
                throw new PanelRefusedException(FormattableString.Invariant($"Invoice {invoice.Number} is already paid."), "InvoiceId");
            }

            var balance = await Ledger.BalanceAsync(db, customerId.Value, cancellationToken);
            if (balance < invoice.Total)
            {
                throw new PanelRefusedException(FormattableString.Invariant($"Your balance of {balance:0.00} {invoice.Currency} does not cover {invoice.Number} ({invoice.Total:0.00})."), "InvoiceId");
            }

            var paid = await Ledger.SettleAsync(db, customerId.Value, invoiceId, actor.Name, now, cancellationToken);
            await tx.CommitAsync(cancellationToken);
            await AuditPaidAsync(paid, cancellationToken);
            return new PaymentResult(invoiceId, paid.Any(p => p.Id == invoiceId), await Ledger.BalanceAsync(db, customerId.Value, cancellationToken));
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.BillingRefused, $"invoice:{invoiceId}", "pay from credit: " + ex.Message, cancellationToken);
            throw;
        }
    }

    /// <summary>The sum of credit notes per invoice, for a set of invoices.</summary>
    private static async Task<Dictionary<long, decimal>> CreditedAsync(PanelDbContext db, IReadOnlyCollection<long> invoiceIds, CancellationToken cancellationToken)
        => await db.CreditNotes.Where(c => invoiceIds.Contains(c.InvoiceId)).GroupBy(c => c.InvoiceId)
            .Select(g => new { g.Key, Sum = g.Sum(c => c.Amount) }).ToDictionaryAsync(x => x.Key, x => x.Sum, cancellationToken);
}
