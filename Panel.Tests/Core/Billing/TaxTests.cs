using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>Tax: rates per country, billing profiles, the tax section of invoices and the reverse charge.</summary>
public sealed class TaxTests(BillingFixture fixture) : BillingTest(fixture)
{
    private static readonly Dictionary<string, (decimal, string)> Rates = new() { ["DE"] = (19m, "VAT"), ["AT"] = (10m, "USt") };

    [Theory]
    [InlineData(null, false, null, 19, null)]          // no country given: the seller's
    [InlineData("DE", true, "DE123456789", 19, null)]  // a business at home pays tax
    [InlineData("AT", false, null, 10, null)]          // a private customer abroad: their country's rate
    [InlineData("AT", true, null, 10, null)]           // a business without a VAT number too
    [InlineData("AT", true, "ATU12345678", 0, "Reverse charge")]
    [InlineData("US", false, null, 0, null)]           // no rate set for the country
    public void The_rate_is_the_customers_countrys_unless_the_reverse_charge_applies(string? country, bool business, string? vat, int rate, string? note)
        => BillingRules.TaxFor("DE", country, business, vat, Rates).ShouldBe(new TaxTreatment(rate, country == "AT" ? "USt" : "VAT", note));

    [Theory]
    [InlineData(1.25, 10, 0.13)]  // 0.125 → 0.13 (banker's rounding would give 0.12)
    [InlineData(10.05, 19, 1.91)] // 1.9095 → 1.91
    [InlineData(0.01, 19, 0.00)]
    [InlineData(100, 0, 0)]
    public void Tax_is_rounded_once_half_away_from_zero(double net, double rate, double tax)
        => BillingRules.Tax((decimal)net, (decimal)rate).ShouldBe((decimal)tax);

    [Fact]
    public async Task Invoices_carry_net_tax_and_gross_by_the_customers_profile_and_the_reverse_charge_note()
    {
        await WithAsync<TaxService, bool>(async t =>
        {
            await t.SetSellerAsync(Admin, new SellerDetails("de", "Hosting GmbH", "Hauptstr. 1\n10115 Berlin", "DE 999 999 999"), Ct);
            await t.SetRateAsync(Admin, "DE", 19m, "VAT", Ct);
            await t.SetRateAsync(Admin, "at", 20m, "USt", Ct);
            return true;
        });
        var profiles = new Dictionary<string, BillingProfile>
        {
            ["home"] = new(null, null, null, false, null),
            ["austria"] = new("Anna Muster", "Ring 1\nWien", "AT", false, null),
            ["business"] = new("Muster GmbH", null, "AT", true, "ATU 1234-5678"),
        };
        var customers = new Dictionary<string, (Guid Customer, long Invoice)>();
        foreach (var (name, profile) in profiles)
        {
            customers[name] = await IssuedInvoiceAsync(12.34m, before: c => WithAsync<TaxService, BillingProfile>(t => t.SetProfileAsync(new Actor(c, "c@example.com", false), c, profile, Ct)));
        }

        async Task<InvoiceView> InvoiceOf(string name) => await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(Admin, customers[name].Invoice, Ct));
        var home = await InvoiceOf("home");
        (home.Net, home.TaxRatePercent, home.TaxAmount, home.Total, home.TaxNote).ShouldBe((12.34m, 19m, 2.34m, 14.68m, (string?)null)); // 2.3446 → 2.34
        var austria = await InvoiceOf("austria");
        (austria.Net, austria.TaxRatePercent, austria.TaxAmount, austria.Total, austria.TaxLabel).ShouldBe((12.34m, 20m, 2.47m, 14.81m, "USt")); // 2.468 → 2.47
        austria.BillTo.ShouldBe("Anna Muster\nRing 1\nWien\nAT");
        var business = await InvoiceOf("business");
        (business.Net, business.TaxRatePercent, business.TaxAmount, business.Total, business.TaxNote).ShouldBe((12.34m, 0m, 0m, 12.34m, "Reverse charge"));
        business.BillTo.ShouldContain("VAT ATU12345678");

        // The open total and the ledger use the gross amount.
        var balance = await WithAsync<BillingService, BalanceView>(b => b.BalanceAsync(Admin, customers["austria"].Customer, Ct));
        balance.OpenTotal.ShouldBe(14.81m);
        var paid = await WithAsync<BillingService, PaymentResult>(b => b.RecordPaymentAsync(Admin, austria.Id, 14.81m, null, Ct));
        paid.InvoicePaid.ShouldBeTrue();

        // The database keeps the tax section immutable too.
        await using var db = Db();
        var ex = await Should.ThrowAsync<Npgsql.PostgresException>(() => db.Invoices.Where(i => i.Id == home.Id).ExecuteUpdateAsync(s => s.SetProperty(i => i.TaxAmount, 0m), Ct));
        ex.SqlState.ShouldBe("P0001");
    }

    [Fact]
    public async Task Bad_rates_profiles_and_seller_details_are_refused_audited_and_change_nothing()
    {
        var customer = await CustomerAsync(Utc(2026, 1, 1));
        var self = new Actor(customer, "self@example.com", IsAdmin: false);
        await WithAsync<TaxService, TaxRateView>(t => t.SetRateAsync(Admin, "DE", 19m, null, Ct));
        await WithAsync<TaxService, BillingProfile>(t => t.SetProfileAsync(self, customer, new BillingProfile(null, null, "DE", false, null), Ct));
        var before = await BillingStateAsync();

        async Task<PanelRefusedException> Rate(string country, decimal rate, string? label = null)
            => await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<TaxService, TaxRateView>(t => t.SetRateAsync(Admin, country, rate, label, Ct)));
        (await Rate("DE", -1m)).Field.ShouldBe("Rate");
        (await Rate("DE", 100.01m)).Field.ShouldBe("Rate");
        (await Rate("DE", 19.125m)).Field.ShouldBe("Rate");
        (await Rate("XX", 10m)).Field.ShouldBe("Country");
        (await Rate("DEU", 10m)).Field.ShouldBe("Country");
        (await Rate("", 10m)).Field.ShouldBe("Country");
        (await Rate("FR", 10m, new string('x', 21))).Field.ShouldBe("Label");

        async Task<PanelRefusedException> Profile(BillingProfile p)
            => await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<TaxService, BillingProfile>(t => t.SetProfileAsync(self, customer, p, Ct)));
        (await Profile(new BillingProfile(null, null, "Germany", false, null))).Field.ShouldBe("Country");
        (await Profile(new BillingProfile(null, null, "DE", false, "DE123456789"))).Field.ShouldBe("VatNumber"); // not a business
        (await Profile(new BillingProfile(null, null, "DE", true, "123456789"))).Field.ShouldBe("VatNumber");   // no prefix
        (await Profile(new BillingProfile(null, null, "DE", true, "DE<script>"))).Field.ShouldBe("VatNumber");
        (await Profile(new BillingProfile(null, null, null, true, "DE123456789"))).Field.ShouldBe("Country");
        (await Profile(new BillingProfile(new string('n', 201), null, "DE", false, null))).Field.ShouldBe("LegalName");
        (await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<TaxService, bool>(async t => { await t.SetSellerAsync(Admin, new SellerDetails("ZZ", null, null, null), Ct); return true; }))).Field.ShouldBe("Country");

        // Customers cannot set rates or the seller, nor see or change anyone else's profile.
        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<TaxService, TaxRateView>(t => t.SetRateAsync(self, "DE", 0m, null, Ct)));
        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<TaxService, bool>(async t => { await t.SetSellerAsync(self, new SellerDetails("AT", null, null, null), Ct); return true; }));
        var stranger = new Actor(Guid.NewGuid(), "stranger@example.com", IsAdmin: false);
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<TaxService, BillingProfile>(t => t.ProfileAsync(stranger, customer, Ct)));
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<TaxService, BillingProfile>(t => t.SetProfileAsync(stranger, customer, new BillingProfile(null, null, "FR", false, null), Ct)));

        (await BillingStateAsync()).ShouldBe(before);
        await using var db = Db();
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.BillingRefused, Ct)).ShouldBeGreaterThanOrEqualTo(16);
        (await WithAsync<TaxService, BillingProfile>(t => t.ProfileAsync(self, customer, Ct))).Country.ShouldBe("DE");
    }
}
