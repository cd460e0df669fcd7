using Microsoft.EntityFrameworkCore;
using Npgsql;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>Bad input is refused with a reason, the attempt is logged, and nothing changes.</summary>
public sealed class RefusalTests(BillingFixture fixture) : BillingTest(fixture)
{
    [Theory]
    [InlineData("-5")]
    [InlineData("0")]
    [InlineData("0.00")]
    [InlineData("1.001")]
    [InlineData("2000000")]
    public async Task A_bad_top_up_amount_is_refused_and_changes_nothing(string amount)
    {
        var customer = await CustomerAsync(Utc(2026, 1, 1));
        await WithAsync<BillingService, BalanceView>(b => b.TopUpAsync(Admin, customer, 10m, null, Ct));
        var before = await BillingStateAsync();

        var refusal = await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, BalanceView>(
            b => b.TopUpAsync(Admin, customer, decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), null, Ct)));
        refusal.Field.ShouldBe("Amount");
        refusal.Message.ShouldNotBeNullOrWhiteSpace();
        (await BillingStateAsync()).ShouldBe(before);
        await using var db = Db();
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.BillingRefused, Ct)).ShouldBe(1);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("1e3")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData("1,50")]
    [InlineData("1.005")]
    [InlineData("1.")]
    [InlineData(".5")]
    [InlineData("1 000")]
    [InlineData("0")]
    [InlineData("NaN")]
    [InlineData("99999999999999999999999")]
    public void A_malformed_amount_is_refused(string text)
        => Should.Throw<PanelRefusedException>(() => Money.ParseAmount(text)).Field.ShouldBe("Amount");

    [Theory]
    [InlineData("12", 12)]
    [InlineData("12.5", 12.5)]
    [InlineData(" 12.50 ", 12.50)]
    [InlineData("0.01", 0.01)]
    public void A_well_formed_amount_parses(string text, double expected)
        => Money.ParseAmount(text).ShouldBe((decimal)expected);

    [Fact]
    public async Task Paying_a_paid_invoice_or_an_unknown_one_is_refused_and_changes_nothing()
    {
        var invoiceId = await OneInvoiceAsync(credit: 100m);
        await using (var db = Db())
        {
            (await db.Invoices.SingleAsync(i => i.Id == invoiceId, Ct)).Status.ShouldBe(InvoiceStatus.Paid);
        }

        var before = await BillingStateAsync();
        var paid = await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, PaymentResult>(b => b.RecordPaymentAsync(Admin, invoiceId, 5m, null, Ct)));
        paid.Message.ShouldContain("already paid");
        (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, PaymentResult>(b => b.RecordPaymentAsync(Admin, invoiceId + 1000, 5m, null, Ct)))).Field.ShouldBe("InvoiceId");
        (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<BillingService, PaymentResult>(b => b.RecordPaymentAsync(Admin, invoiceId, -5m, null, Ct)))).Field.ShouldBe("Amount");
        (await BillingStateAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task Two_payments_for_one_open_invoice_at_once_settle_it_once()
    {
        var invoiceId = await OneInvoiceAsync(credit: null);
        decimal total;
        await using (var db = Db())
        {
            total = (await db.Invoices.SingleAsync(i => i.Id == invoiceId, Ct)).Total;
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            try
            {
                return await WithAsync<BillingService, PaymentResult>(b => b.RecordPaymentAsync(Admin, invoiceId, total, null, Ct));
            }
            catch (PanelRefusedException)
            {
                return null;
            }
        }, Ct)));
        results.Count(r => r is not null).ShouldBe(1);
        await using var check = Db();
        (await check.LedgerEntries.CountAsync(e => e.Kind == LedgerEntryKind.InvoiceCharge, Ct)).ShouldBe(1);
        (await check.LedgerEntries.CountAsync(e => e.Kind == LedgerEntryKind.Payment, Ct)).ShouldBe(1);
    }

    [Fact]
    public async Task A_customer_calling_admin_methods_is_refused_logged_and_changes_nothing()
    {
        var invoiceId = await OneInvoiceAsync(credit: null);
        Guid customer;
        await using (var db = Db())
        {
            customer = (await db.Invoices.SingleAsync(i => i.Id == invoiceId, Ct)).CustomerId;
        }

        var planId = await PlanAsync(1m, 0.001m);
        var self = new Actor(customer, "customer@example.com", IsAdmin: false);
        var before = await BillingStateAsync();

        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<BillingService, BalanceView>(b => b.TopUpAsync(self, customer, 50m, null, Ct)));
        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<BillingService, PaymentResult>(b => b.RecordPaymentAsync(self, invoiceId, 50m, null, Ct)));
        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<CatalogService, bool>(async c => { await c.SetPricesAsync(self, planId, new PlanPrices(0m, 0m), Ct); return true; }));
        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<SettingsService, bool>(async s => { await s.SetCurrencyAsync(self, "USD", Ct); return true; }));
        (await BillingStateAsync()).ShouldBe(before);

        // Another customer's money and invoices are "not found".
        var stranger = new Actor(Guid.NewGuid(), "other@example.com", IsAdmin: false);
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(stranger, invoiceId, Ct)));
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<BillingService, BalanceView>(b => b.BalanceAsync(stranger, customer, Ct)));
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<BillingService, IReadOnlyList<InvoiceView>>(b => b.InvoicesAsync(stranger, customer, Ct)));
        (await WithAsync<BillingService, IReadOnlyList<InvoiceView>>(b => b.InvoicesAsync(stranger, null, Ct))).ShouldBeEmpty();
        (await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(self, invoiceId, Ct))).Id.ShouldBe(invoiceId);

        await using var check = Db();
        (await check.AuditEvents.CountAsync(e => e.Action == AuditActions.BillingRefused && e.ActorId == customer, Ct)).ShouldBe(2);
    }

    [Fact]
    public async Task Bad_prices_and_currencies_are_refused_and_change_nothing()
    {
        var planId = await PlanAsync(10m, 0.02m);
        var before = await BillingStateAsync();
        async Task<PanelRefusedException> Prices(PlanPrices prices)
            => await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<CatalogService, bool>(async c => { await c.SetPricesAsync(Admin, planId, prices, Ct); return true; }));
        (await Prices(new PlanPrices(-1m, 0.01m))).Field.ShouldBe("MonthlyPrice");
        (await Prices(new PlanPrices(10m, 0.00001m))).Field.ShouldBe("HourlyPrice");
        (await Prices(new PlanPrices(10m, 11m))).Field.ShouldBe("HourlyPrice");
        (await Prices(new PlanPrices(10m, 0.01m, -2m))).Field.ShouldBe("SetupFee");
        (await Prices(new PlanPrices(10m, 0.01m, 0m, -0.01m))).Field.ShouldBe("PricePerExtraGb");
        foreach (var code in new[] { "eur", "EURO", "", "E1R" })
        {
            (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<SettingsService, bool>(async s => { await s.SetCurrencyAsync(Admin, code, Ct); return true; }))).Field.ShouldBe("Currency");
        }

        (await BillingStateAsync()).ShouldBe(before);

        // Good ones apply; once an invoice exists the currency is fixed.
        await WithAsync<CatalogService, bool>(async c => { await c.SetPricesAsync(Admin, planId, new PlanPrices(12.5m, 0.0175m, 1m, 0.01m), Ct); return true; });
        (await WithAsync<CatalogService, PlanPrices>(c => c.PricesAsync(Admin, planId, Ct))).ShouldBe(new PlanPrices(12.5m, 0.0175m, 1m, 0.01m));
        await WithAsync<SettingsService, bool>(async s => { await s.SetCurrencyAsync(Admin, "USD", Ct); return true; });
        await OneInvoiceAsync(credit: null);
        await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<SettingsService, bool>(async s => { await s.SetCurrencyAsync(Admin, "EUR", Ct); return true; }));
        (await WithAsync<SettingsService, string>(s => s.GetCurrencyAsync(Ct))).ShouldBe("USD");
    }

    [Fact]
    public async Task The_database_refuses_to_change_the_ledger_or_an_issued_invoice()
    {
        var invoiceId = await OneInvoiceAsync(credit: 100m);
        var before = await BillingStateAsync();
        await using var db = Db();
        foreach (var sql in new[]
                 {
                     "UPDATE ledger_entries SET amount = amount + 1",
                     "DELETE FROM ledger_entries",
                     "UPDATE invoice_lines SET amount = 0",
                     "DELETE FROM invoice_lines",
                     "UPDATE invoices SET total = 0",
                     "UPDATE invoices SET status = 'Open', paid_at = NULL",
                     "DELETE FROM invoices",
                 })
        {
            var ex = await Should.ThrowAsync<PostgresException>(() => db.Database.ExecuteSqlRawAsync(sql, Ct), sql);
            ex.SqlState.ShouldBe("P0001", sql);
        }

        (await BillingStateAsync()).ShouldBe(before);
        invoiceId.ShouldBeGreaterThan(0);
    }

    /// <summary>A customer with one issued invoice (paid from <paramref name="credit"/> if it covers it). Returns its id.</summary>
    private async Task<long> OneInvoiceAsync(decimal? credit)
    {
        var plan = await PlanAsync(10m, 0.02m);
        var customer = await CustomerAsync(Utc(2026, 1, 5));
        await VpsAsync(customer, plan, Utc(2026, 1, 6));
        if (credit is { } c)
        {
            await WithAsync<BillingService, BalanceView>(b => b.TopUpAsync(Admin, customer, c, null, Ct));
        }

        Clock.Set(Utc(2026, 2, 5, 1, 0));
        (await InvoiceAsync()).Issued.ShouldBe(1);
        await using var db = Db();
        return (await db.Invoices.SingleAsync(i => i.CustomerId == customer, Ct)).Id;
    }
}
