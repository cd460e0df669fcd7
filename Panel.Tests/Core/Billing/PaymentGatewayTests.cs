using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Panel.Core.Billing;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>
/// A payment provider as the panel sees one: it charges once per idempotency key and answers a
/// repeated key with the first outcome. Tests make it decline a customer, or charge and then lose the
/// answer (a timeout after the money moved).
/// </summary>
public sealed class ProviderStandIn : IPaymentGateway
{
    private readonly ConcurrentDictionary<string, GatewayChargeResult> byKey = new(StringComparer.Ordinal);
    private int loseNextAnswers;

    /// <inheritdoc />
    public string Name => "standin";

    /// <summary>Every call: key and amount.</summary>
    public ConcurrentQueue<GatewayCharge> Calls { get; } = new();

    /// <summary>Money actually taken, per key.</summary>
    public ConcurrentDictionary<string, decimal> Taken { get; } = new(StringComparer.Ordinal);

    /// <summary>Customers whose card is declined.</summary>
    public ConcurrentDictionary<Guid, string> Declines { get; } = new();

    /// <summary>The next <paramref name="count"/> calls charge but then time out before answering.</summary>
    public void LoseNextAnswers(int count) => Interlocked.Exchange(ref loseNextAnswers, count);

    /// <inheritdoc />
    public async Task<GatewayChargeResult> ChargeAsync(GatewayCharge charge, CancellationToken cancellationToken)
    {
        Calls.Enqueue(charge);
        await Task.Yield();
        var result = byKey.GetOrAdd(charge.IdempotencyKey, _ =>
        {
            if (Declines.TryGetValue(charge.CustomerId, out var why))
            {
                return new GatewayChargeResult(false, null, why);
            }

            Taken[charge.IdempotencyKey] = charge.Amount;
            return new GatewayChargeResult(true, "ch_" + charge.IdempotencyKey[^8..], null);
        });
        if (Interlocked.Decrement(ref loseNextAnswers) >= 0)
        {
            throw new TimeoutException("the provider did not answer in 30 s");
        }

        return result;
    }
}

/// <summary>Card payments through the gateway interface: charged once, never lost, booked once, refused cleanly.</summary>
public sealed class PaymentGatewayTests(BillingFixture fixture) : BillingTest(fixture)
{
    private ProviderStandIn Provider => Fixture.Gateway;

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        Provider.Calls.Clear();
        Provider.Taken.Clear();
        Provider.Declines.Clear();
        Provider.LoseNextAnswers(0);
    }

    [Fact]
    public async Task A_charge_whose_answer_is_lost_stays_pending_and_the_retry_with_the_same_key_pays_the_invoice_once()
    {
        var (customer, invoiceId) = await IssuedInvoiceAsync(10m, credit: 3m); // 10.00 open, 3.00 credit
        var self = new Actor(customer, "c@example.com", false);

        // The provider takes the money but its answer never arrives.
        Provider.LoseNextAnswers(1);
        var first = await WithAsync<PaymentService, PaymentAttemptView>(p => p.PayAsync(self, invoiceId, Ct));
        first.Status.ShouldBe(PaymentAttemptStatus.Pending);
        first.Amount.ShouldBe(7.00m, "what the credit leaves");
        first.Message!.ShouldContain("not known yet");
        (await InvoiceStatusAsync(invoiceId)).ShouldBe(InvoiceStatus.Open);

        // The retry job leaves a fresh attempt to its request, then repeats it with the same key.
        (await WithAsync<PaymentService, int>(p => p.RetryPendingAsync(Ct))).ShouldBe(0);
        Clock.Set(Clock.UtcNow + PaymentService.RetryAfter + TimeSpan.FromSeconds(1));
        (await WithAsync<PaymentService, int>(p => p.RetryPendingAsync(Ct))).ShouldBe(1);

        var attempts = await WithAsync<PaymentService, IReadOnlyList<PaymentAttemptView>>(p => p.AttemptsAsync(self, null, Ct));
        var done = attempts.ShouldHaveSingleItem();
        (done.Status, done.Tries, done.Reference).ShouldBe((PaymentAttemptStatus.Succeeded, 2, "ch_" + Provider.Calls.First().IdempotencyKey[^8..]));
        Provider.Calls.Select(c => c.IdempotencyKey).Distinct().ShouldHaveSingleItem();
        Provider.Taken.Values.ShouldBe([7.00m], "the money moved once");
        (await InvoiceStatusAsync(invoiceId)).ShouldBe(InvoiceStatus.Paid);
        await using (var db = Db())
        {
            var ledger = await db.LedgerEntries.Where(e => e.CustomerId == customer).OrderBy(e => e.Id).Select(e => new { e.Kind, e.Amount, e.BalanceAfter }).ToListAsync(Ct);
            ledger.Select(e => (e.Kind, e.Amount, e.BalanceAfter)).ShouldBe([
                (LedgerEntryKind.CreditTopUp, 3.00m, 3.00m), (LedgerEntryKind.Payment, 7.00m, 10.00m), (LedgerEntryKind.InvoiceCharge, -10.00m, 0.00m)]);
            (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.GatewayCharge, Ct)).ShouldBe(1);
        }

        // Paid: another card payment is refused and changes nothing; the job has nothing left to do.
        var before = await BillingStateAsync();
        (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<PaymentService, PaymentAttemptView>(p => p.PayAsync(self, invoiceId, Ct)))).Message.ShouldContain("already paid");
        (await WithAsync<PaymentService, int>(p => p.RetryPendingAsync(Ct))).ShouldBe(0);
        (await BillingStateAsync()).ShouldBe(before);
        Provider.Calls.Count.ShouldBe(2);
    }

    [Fact]
    public async Task Concurrent_card_payments_of_one_invoice_charge_once_and_a_decline_keeps_the_reason_and_takes_nothing()
    {
        var (customer, invoiceId) = await IssuedInvoiceAsync(12m);
        var self = new Actor(customer, "c@example.com", false);
        Provider.Declines[customer] = "card expired";
        var declined = await WithAsync<PaymentService, PaymentAttemptView>(p => p.PayAsync(self, invoiceId, Ct));
        (declined.Status, declined.Message).ShouldBe((PaymentAttemptStatus.Declined, "card expired"));
        (await InvoiceStatusAsync(invoiceId)).ShouldBe(InvoiceStatus.Open);
        Provider.Taken.ShouldBeEmpty();

        // The customer fixed the card and presses "pay" four times at once: one new attempt, one charge.
        Provider.Declines.Clear();
        // Each press joins the charge in flight, or (once it is booked) is told the invoice is paid.
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            try
            {
                return await WithAsync<PaymentService, PaymentAttemptView>(p => p.PayAsync(self, invoiceId, Ct));
            }
            catch (PanelRefusedException ex) when (ex.Message.Contains("already paid", StringComparison.Ordinal))
            {
                return null;
            }
        }, Ct)));
        var answered = results.OfType<PaymentAttemptView>().ToList();
        answered.ShouldNotBeEmpty();
        answered.Select(r => r.Id).Distinct().ShouldHaveSingleItem();
        answered.ShouldAllBe(r => r.Status == PaymentAttemptStatus.Succeeded);
        Provider.Taken.Values.ShouldBe([12.00m]);
        (await InvoiceStatusAsync(invoiceId)).ShouldBe(InvoiceStatus.Paid);
        await using var db = Db();
        (await db.LedgerEntries.CountAsync(e => e.CustomerId == customer && e.Kind == LedgerEntryKind.Payment, Ct)).ShouldBe(1);
    }

    [Fact]
    public async Task Someone_elses_invoice_an_unknown_one_and_a_panel_without_a_gateway_are_refused_and_change_nothing()
    {
        var (customer, invoiceId) = await IssuedInvoiceAsync(10m);
        var self = new Actor(customer, "c@example.com", false);
        var before = await BillingStateAsync();
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<PaymentService, PaymentAttemptView>(p => p.PayAsync(new Actor(Guid.NewGuid(), "x@example.com", false), invoiceId, Ct)));
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<PaymentService, PaymentAttemptView>(p => p.PayAsync(self, invoiceId + 1000, Ct)));

        // No provider configured: a clear refusal, logged.
        var (scope, _) = Resolve<BillingService>();
        await using (scope)
        {
            var sp = scope.ServiceProvider;
            var none = new PaymentService(sp.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<Panel.Core.Persistence.PanelDbContext>>(), sp.GetRequiredService<AuditLog>(),
                Clock, sp.GetRequiredService<DunningService>(), [], NullLogger<PaymentService>.Instance);
            none.GatewayName.ShouldBeNull();
            (await Should.ThrowAsync<PanelRefusedException>(() => none.PayAsync(self, invoiceId, Ct))).Field.ShouldBe("Gateway");
            (await none.RetryPendingAsync(Ct)).ShouldBe(0);
        }

        (await BillingStateAsync()).ShouldBe(before);
        await using (var db = Db())
        {
            (await db.PaymentAttempts.CountAsync(Ct)).ShouldBe(0);
            (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.BillingRefused, Ct)).ShouldBe(1);
        }

        Provider.Calls.ShouldBeEmpty();
    }

    private async Task<InvoiceStatus> InvoiceStatusAsync(long invoiceId)
    {
        await using var db = Db();
        return await db.Invoices.Where(i => i.Id == invoiceId).Select(i => i.Status).SingleAsync(Ct);
    }
}
