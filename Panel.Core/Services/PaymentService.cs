using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Panel.Core.Billing;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>
/// Paying an invoice through the payment gateway (<see cref="IPaymentGateway"/>; none is configured
/// by default, and then customers pay by transfer or from credit). The flow never charges twice and
/// never loses a charge:
/// <list type="number">
/// <item>Under the customer's account lock: the invoice must be open and not covered by the balance; a
/// <see cref="PaymentAttempt"/> row is written <em>pending</em> with a fresh idempotency key (at most one
/// live attempt per invoice: a second request joins the first). Committed before the provider is called.</item>
/// <item>The provider is called with that key. An exception or timeout leaves the attempt pending; the
/// retry job (<see cref="RetryPendingAsync"/>) repeats it with the same key, so the provider answers
/// with the first outcome.</item>
/// <item>The outcome is booked once (a conditional update from pending): a success appends a
/// <see cref="LedgerEntryKind.Payment"/>, settles the invoice and lifts dunning; a decline is kept with
/// the provider's reason.</item>
/// </list>
/// </summary>
public sealed class PaymentService(
    IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, TimeProvider clock, DunningService dunning,
    IEnumerable<IPaymentGateway> gateways, ILogger<PaymentService> logger)
{
    /// <summary>Pending attempts younger than this are left to the request that made them.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromMinutes(1);

    private readonly IPaymentGateway? gateway = gateways.FirstOrDefault();

    /// <summary>The configured gateway's name, or null when none is (the pages then offer no card payment).</summary>
    public string? GatewayName => gateway?.Name;

    /// <summary>
    /// Charges what an open invoice leaves after the customer's credit through the gateway (its owner or
    /// an admin; audited). Returns the attempt: succeeded (the invoice is paid), declined (with the
    /// provider's reason), or pending (the outcome is not known yet; it is completed later, never twice).
    /// </summary>
    /// <exception cref="PanelRefusedException">No gateway, the invoice is paid, or the balance covers it; nothing changed.</exception>
    /// <exception cref="PanelNotFoundException">Not the caller's invoice.</exception>
    public async Task<PaymentAttemptView> PayAsync(Actor actor, long invoiceId, CancellationToken cancellationToken = default)
    {
        var caller = Require.User(actor);
        long attemptId;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var customerId = await db.Invoices.Where(i => i.Id == invoiceId && (actor.IsAdmin || i.CustomerId == caller))
                .Select(i => (Guid?)i.CustomerId).FirstOrDefaultAsync(cancellationToken) ?? throw new PanelNotFoundException($"No invoice #{invoiceId}.");
            try
            {
                if (gateway is null)
                {
                    throw new PanelRefusedException("Card payments are not set up on this panel: pay by bank transfer, or from your credit.", "Gateway");
                }

                var now = clock.GetUtcNow().UtcDateTime;
                await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
                await BillingService.LockAccountAsync(db, customerId, now, cancellationToken);
                var invoice = await db.Invoices.AsNoTracking().FirstAsync(i => i.Id == invoiceId, cancellationToken);
                if (invoice.Status == InvoiceStatus.Paid)
                {
                    throw new PanelRefusedException(FormattableString.Invariant($"Invoice {invoice.Number} is already paid ({invoice.PaidAt:yyyy-MM-dd HH:mm} UTC)."), "InvoiceId");
                }

                var live = await db.PaymentAttempts.AsNoTracking().Where(p => p.InvoiceId == invoiceId && p.Status == PaymentAttemptStatus.Pending)
                    .Select(p => (long?)p.Id).FirstOrDefaultAsync(cancellationToken);
                if (live is { } joined)
                {
                    attemptId = joined; // a charge of this invoice is on its way: complete that one, never a second
                }
                else
                {
                    var due = invoice.Total - await Ledger.BalanceAsync(db, customerId, cancellationToken);
                    if (due <= 0)
                    {
                        throw new PanelRefusedException(FormattableString.Invariant($"Your credit covers invoice {invoice.Number}: pay it from your credit."), "InvoiceId");
                    }

                    var attempt = new PaymentAttempt
                    {
                        CustomerId = customerId, InvoiceId = invoiceId, Gateway = gateway.Name, IdempotencyKey = "vpspanel-pay-" + Guid.NewGuid().ToString("N"),
                        Amount = due, Currency = invoice.Currency, Status = PaymentAttemptStatus.Pending, ActorName = actor.Name, CreatedAt = now,
                    };
                    db.PaymentAttempts.Add(attempt);
                    await db.SaveChangesAsync(cancellationToken);
                    attemptId = attempt.Id;
                }

                await tx.CommitAsync(cancellationToken);
            }
            catch (PanelRefusedException ex)
            {
                await audit.RecordAsync(actor, AuditActions.BillingRefused, $"invoice:{invoiceId}", "card payment: " + ex.Message, cancellationToken);
                throw;
            }
        }

        return await CompleteAsync(attemptId, cancellationToken);
    }

    /// <summary>Repeats every pending attempt older than <see cref="RetryAfter"/> with its own key (the retry job). Returns how many it tried.</summary>
    public async Task<int> RetryPendingAsync(CancellationToken cancellationToken = default)
    {
        if (gateway is null)
        {
            return 0;
        }

        List<long> ids;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var before = clock.GetUtcNow().UtcDateTime - RetryAfter;
            ids = await db.PaymentAttempts.AsNoTracking().Where(p => p.Status == PaymentAttemptStatus.Pending && p.CreatedAt < before)
                .OrderBy(p => p.Id).Select(p => p.Id).ToListAsync(cancellationToken);
        }

        foreach (var id in ids)
        {
            await CompleteAsync(id, cancellationToken);
        }

        return ids.Count;
    }

    /// <summary>Gateway charges, newest first: a customer's own, or for admins one customer's or everyone's.</summary>
    public async Task<IReadOnlyList<PaymentAttemptView>> AttemptsAsync(Actor actor, Guid? customerId = null, CancellationToken cancellationToken = default)
    {
        var caller = Require.User(actor);
        if (!actor.IsAdmin)
        {
            customerId = caller;
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var query = db.PaymentAttempts.AsNoTracking();
        if (customerId is { } c)
        {
            query = query.Where(p => p.CustomerId == c);
        }

        return await query.OrderByDescending(p => p.Id).Take(500).Select(p => View(p)).ToListAsync(cancellationToken);
    }

    /// <summary>Calls the provider for a pending attempt and books its outcome once.</summary>
    private async Task<PaymentAttemptView> CompleteAsync(long attemptId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var attempt = await db.PaymentAttempts.AsNoTracking().FirstAsync(p => p.Id == attemptId, cancellationToken);
        if (attempt.Status != PaymentAttemptStatus.Pending || gateway is null)
        {
            return View(attempt);
        }

        var number = await db.Invoices.Where(i => i.Id == attempt.InvoiceId).Select(i => i.Number).FirstAsync(cancellationToken);
        await db.PaymentAttempts.Where(p => p.Id == attemptId).ExecuteUpdateAsync(s => s.SetProperty(p => p.Tries, p => p.Tries + 1), cancellationToken);
        GatewayChargeResult result;
        try
        {
            result = await gateway.ChargeAsync(new GatewayCharge(attempt.IdempotencyKey, attempt.CustomerId, attempt.Amount, attempt.Currency, "Invoice " + number), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The outcome is unknown: the charge may have happened. Keep it pending; the same key repeats it.
            var why = Truncate("outcome not known yet: " + ex.Message, 500);
            logger.LogWarning(ex, "payment attempt {Attempt} for invoice {Invoice}: {Why}", attemptId, number, why);
            await db.PaymentAttempts.Where(p => p.Id == attemptId).ExecuteUpdateAsync(s => s.SetProperty(p => p.Message, why), CancellationToken.None);
            return View(await db.PaymentAttempts.AsNoTracking().FirstAsync(p => p.Id == attemptId, CancellationToken.None));
        }

        var now = clock.GetUtcNow().UtcDateTime;
        IReadOnlyList<Invoice> paid = [];
        await using (var tx = await db.Database.BeginTransactionAsync(CancellationToken.None))
        {
            await BillingService.LockAccountAsync(db, attempt.CustomerId, now, CancellationToken.None);
            var status = result.Succeeded ? PaymentAttemptStatus.Succeeded : PaymentAttemptStatus.Declined;
            var reference = Truncate(result.Reference, 256);
            var message = Truncate(result.Message, 500);
            // From pending only: a concurrent completer (the request and the retry job) books it once.
            var booked = await db.PaymentAttempts.Where(p => p.Id == attemptId && p.Status == PaymentAttemptStatus.Pending)
                .ExecuteUpdateAsync(s => s.SetProperty(p => p.Status, status).SetProperty(p => p.Reference, reference)
                    .SetProperty(p => p.Message, message).SetProperty(p => p.CompletedAt, now), CancellationToken.None);
            if (booked == 1 && result.Succeeded)
            {
                var balance = await Ledger.BalanceAsync(db, attempt.CustomerId, CancellationToken.None);
                Ledger.Append(db, attempt.CustomerId, LedgerEntryKind.Payment, attempt.Amount, balance, attempt.InvoiceId,
                    Truncate($"{attempt.Gateway} {reference}".Trim(), 500), "gateway:" + attempt.Gateway, now);
                await db.SaveChangesAsync(CancellationToken.None);
                paid = await Ledger.SettleAsync(db, attempt.CustomerId, attempt.InvoiceId, "gateway:" + attempt.Gateway, now, CancellationToken.None);
            }

            await tx.CommitAsync(CancellationToken.None);
            if (booked == 1)
            {
                await audit.RecordAsync(Actor.System, AuditActions.GatewayCharge, $"invoice:{attempt.InvoiceId}",
                    FormattableString.Invariant($"{number}: {attempt.Amount:0.00} {attempt.Currency} through {attempt.Gateway}: {(result.Succeeded ? "paid" : "declined")}{(message is null ? "" : " (" + message + ")")}"), CancellationToken.None);
                foreach (var invoice in paid)
                {
                    await audit.RecordAsync(Actor.System, AuditActions.InvoicePaid, $"invoice:{invoice.Id}", FormattableString.Invariant($"{invoice.Number}: {invoice.Total:0.00} paid"), CancellationToken.None);
                }
            }
        }

        if (paid.Count > 0)
        {
            await dunning.LiftIfPaidAsync(attempt.CustomerId, CancellationToken.None);
        }

        return View(await db.PaymentAttempts.AsNoTracking().FirstAsync(p => p.Id == attemptId, CancellationToken.None));
    }

    private static PaymentAttemptView View(PaymentAttempt p)
        => new(p.Id, p.InvoiceId, p.Gateway, p.Amount, p.Currency, p.Status, p.Reference, p.Message, p.Tries, p.CreatedAt, p.CompletedAt);

    private static string? Truncate(string? text, int max) => text is null ? null : text.Length <= max ? text : text[..max];
}

/// <summary>A gateway charge of an invoice.</summary>
/// <param name="Id">The attempt.</param>
/// <param name="InvoiceId">The invoice it pays.</param>
/// <param name="Gateway">The provider.</param>
/// <param name="Amount">Amount charged.</param>
/// <param name="Currency">Currency.</param>
/// <param name="Status">Pending, succeeded or declined.</param>
/// <param name="Reference">The provider's reference.</param>
/// <param name="Message">The decline reason or the last error while pending.</param>
/// <param name="Tries">Calls to the provider so far.</param>
/// <param name="CreatedAt">When it was asked for (UTC).</param>
/// <param name="CompletedAt">When its outcome was known (UTC).</param>
public sealed record PaymentAttemptView(long Id, long InvoiceId, string Gateway, decimal Amount, string Currency, PaymentAttemptStatus Status,
    string? Reference, string? Message, int Tries, DateTime CreatedAt, DateTime? CompletedAt);
