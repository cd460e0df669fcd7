using Microsoft.EntityFrameworkCore;
using Npgsql;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>Credit notes: gap-free CN numbers, at most what an invoice has left, credited to the ledger; the invoice never changes.</summary>
public sealed class CreditNoteTests(BillingFixture fixture) : BillingTest(fixture)
{
    [Fact]
    public async Task Credit_notes_credit_the_ledger_with_gap_free_numbers_up_to_the_invoices_total_and_leave_the_invoice_as_issued()
    {
        var (customer, invoiceId) = await IssuedInvoiceAsync(20m, credit: 25m); // paid from the credit: 5.00 left
        var issued = await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(Admin, invoiceId, Ct));
        issued.Status.ShouldBe(InvoiceStatus.Paid);

        var first = await WithAsync<BillingService, CreditNoteView>(b => b.IssueCreditNoteAsync(Admin, invoiceId, 7.50m, "outage on 12 January", Ct));
        first.Number.ShouldBe("CN-2026-000001");
        var second = await WithAsync<BillingService, CreditNoteView>(b => b.IssueCreditNoteAsync(Admin, invoiceId, 2.50m, "goodwill", Ct));
        second.Number.ShouldBe("CN-2026-000002");
        (await WithAsync<BillingService, BalanceView>(b => b.BalanceAsync(Admin, customer, Ct))).Balance.ShouldBe(15.00m);

        // More than is left (20.00 - 10.00) is refused and changes nothing.
        var before = await BillingStateAsync();
        var tooMuch = await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, CreditNoteView>(b => b.IssueCreditNoteAsync(Admin, invoiceId, 10.01m, "again", Ct)));
        tooMuch.Message.ShouldContain("10.00");
        (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, CreditNoteView>(b => b.IssueCreditNoteAsync(Admin, invoiceId, 1m, " ", Ct)))).Field.ShouldBe("Reason");
        (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, CreditNoteView>(b => b.IssueCreditNoteAsync(Admin, invoiceId, -1m, "x", Ct)))).Field.ShouldBe("Amount");
        (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, CreditNoteView>(b => b.IssueCreditNoteAsync(Admin, invoiceId + 99, 1m, "x", Ct)))).Field.ShouldBe("InvoiceId");
        var self = new Actor(customer, "c@example.com", false);
        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<BillingService, CreditNoteView>(b => b.IssueCreditNoteAsync(self, invoiceId, 1m, "me", Ct)));
        (await BillingStateAsync()).ShouldBe(before);

        // Concurrent notes for the rest: together never more than the total, numbers still gap-free.
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            try
            {
                return await WithAsync<BillingService, CreditNoteView>(b => b.IssueCreditNoteAsync(Admin, invoiceId, 4m, "race", Ct));
            }
            catch (PanelRefusedException)
            {
                return null;
            }
        }, Ct)));
        results.Count(r => r is not null).ShouldBe(2);
        var notes = await WithAsync<BillingService, IReadOnlyList<CreditNoteView>>(b => b.CreditNotesAsync(self, null, null, Ct));
        notes.Select(n => n.Number).Order(StringComparer.Ordinal).ShouldBe(["CN-2026-000001", "CN-2026-000002", "CN-2026-000003", "CN-2026-000004"]);
        notes.Sum(n => n.Amount).ShouldBe(18.00m);

        var after = await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(self, invoiceId, Ct));
        (after.Total, after.Status, after.Lines.Count, after.Credited).ShouldBe((issued.Total, issued.Status, issued.Lines.Count, 18.00m));
        var ledger = await WithAsync<BillingService, IReadOnlyList<LedgerEntryView>>(b => b.LedgerAsync(self, customer, Ct));
        ledger.Where(e => e.Kind == LedgerEntryKind.CreditNote).Sum(e => e.Amount).ShouldBe(18.00m);
        ledger[^1].BalanceAfter.ShouldBe(23.00m);

        // The database refuses to change or remove a credit note; another customer does not see them.
        await using var db = Db();
        foreach (var sql in new[] { "UPDATE credit_notes SET amount = 1", "DELETE FROM credit_notes" })
        {
            (await Should.ThrowAsync<PostgresException>(() => db.Database.ExecuteSqlRawAsync(sql, Ct))).SqlState.ShouldBe("P0001");
        }

        var stranger = new Actor(Guid.NewGuid(), "s@example.com", false);
        (await WithAsync<BillingService, IReadOnlyList<CreditNoteView>>(b => b.CreditNotesAsync(stranger, null, null, Ct))).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_customer_pays_an_open_invoice_from_credit_and_is_refused_when_the_balance_is_short()
    {
        var (customer, invoiceId) = await IssuedInvoiceAsync(10m);
        var self = new Actor(customer, "c@example.com", false);
        var before = await BillingStateAsync();
        (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, PaymentResult>(b => b.PayFromCreditAsync(self, invoiceId, Ct)))).Message.ShouldContain("does not cover");
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<BillingService, PaymentResult>(b => b.PayFromCreditAsync(new Actor(Guid.NewGuid(), "x@example.com", false), invoiceId, Ct)));
        (await BillingStateAsync()).ShouldBe(before);

        // A second, small invoice (the VPS went 2 hours into February) waits behind the first: credit that
        // does not cover the older one does not pay it by itself, but the customer can pay it from credit.
        await using (var db = Db())
        {
            await db.Vpses.Where(v => v.OwnerId == customer).ExecuteUpdateAsync(u => u.SetProperty(v => v.DeletedAt, Utc(2026, 2, 1, 2)).SetProperty(v => v.NodeId, (int?)null), Ct);
        }

        Clock.Set(Utc(2026, 3, 1, 0, 30));
        (await InvoiceAsync()).Issued.ShouldBe(1);
        var small = (await WithAsync<BillingService, IReadOnlyList<InvoiceView>>(b => b.InvoicesAsync(self, null, Ct))).Single(i => i.Id != invoiceId);
        small.Total.ShouldBe(0.04m);
        await WithAsync<BillingService, BalanceView>(b => b.TopUpAsync(Admin, customer, 1m, null, Ct));
        (await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(self, small.Id, Ct))).Status.ShouldBe(InvoiceStatus.Open);
        var paid = await WithAsync<BillingService, PaymentResult>(b => b.PayFromCreditAsync(self, small.Id, Ct));
        (paid.InvoicePaid, paid.Balance).ShouldBe((true, 0.96m));
        (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, PaymentResult>(b => b.PayFromCreditAsync(self, small.Id, Ct)))).Message.ShouldContain("already paid");
        (await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(self, invoiceId, Ct))).Status.ShouldBe(InvoiceStatus.Open);
    }

    [Fact]
    public async Task An_invoice_of_nothing_is_settled_even_behind_one_the_balance_does_not_cover()
    {
        var (customer, unpaid) = await IssuedInvoiceAsync(10m); // 10.00 open, no credit
        long zero;
        await using (var db = Db())
        {
            // March's invoice came to 0.00 (a coupon covered it all).
            var invoice = new Invoice
            {
                Number = "INV-2026-000900", CustomerId = customer, PeriodStart = Utc(2026, 2, 1), PeriodEnd = Utc(2026, 3, 1), IssuedAt = Utc(2026, 3, 1),
                DueAt = Utc(2026, 3, 15), Currency = "EUR", Net = 0m, TaxAmount = 0m, Total = 0m, Status = InvoiceStatus.Open,
            };
            db.Invoices.Add(invoice);
            await db.SaveChangesAsync(Ct);
            zero = invoice.Id;
        }

        // Any settlement (here a top-up that does not cover the 10.00) pays the 0.00 one and charges nothing for it.
        var balance = await WithAsync<BillingService, BalanceView>(b => b.TopUpAsync(Admin, customer, 1m, null, Ct));
        balance.Balance.ShouldBe(1.00m);
        var self = new Actor(customer, "c@example.com", false);
        (await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(self, zero, Ct))).Status.ShouldBe(InvoiceStatus.Paid);
        (await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(self, unpaid, Ct))).Status.ShouldBe(InvoiceStatus.Open);
        await using var check = Db();
        (await check.LedgerEntries.CountAsync(e => e.CustomerId == customer && e.Kind == LedgerEntryKind.InvoiceCharge, Ct)).ShouldBe(0);
    }
}
