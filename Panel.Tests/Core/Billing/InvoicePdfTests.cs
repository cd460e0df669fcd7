using System.Text.RegularExpressions;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;
using UglyToad.PdfPig;

namespace Panel.Tests.Core.Billing;

/// <summary>The PDF invoice: read back with PdfPig (an independent reader), it holds what the invoice says; only its owner and admins get it.</summary>
public sealed partial class InvoicePdfTests(BillingFixture fixture) : BillingTest(fixture)
{
    [Fact]
    public async Task The_pdf_holds_seller_customer_number_dates_lines_totals_and_the_reverse_charge_note_and_only_its_owner_and_admins_get_it()
    {
        await WithAsync<TaxService, bool>(async t =>
        {
            await t.SetSellerAsync(Admin, new SellerDetails("DE", "Hosting GmbH", "Hauptstr. 1\n10115 Berlin", "DE999999999"), Ct);
            await t.SetRateAsync(Admin, "FR", 20m, "TVA", Ct);
            return true;
        });
        Clock.Set(Utc(2026, 1, 1));
        await WithAsync<CouponService, CouponView>(c => c.CreateAsync(Admin, new CouponDraft("SPRING", CouponKind.FixedAmount, 1.25m), Ct));
        var (customer, invoiceId) = await IssuedInvoiceAsync(9.99m, before: async c =>
        {
            var self = new Actor(c, "c@example.com", false);
            await WithAsync<TaxService, BillingProfile>(t => t.SetProfileAsync(self, c, new BillingProfile("Société Exemple SARL", "1 rue de la Paix\n75002 Paris", "FR", true, "FR12345678901"), Ct));
            await WithAsync<CouponService, RedemptionView>(s => s.RedeemAsync(self, "SPRING", Ct));
        });
        await WithAsync<BillingService, CreditNoteView>(b => b.IssueCreditNoteAsync(Admin, invoiceId, 2.00m, "outage", Ct));
        var owner = new Actor(customer, "c@example.com", false);
        var invoice = await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(owner, invoiceId, Ct));
        (invoice.Net, invoice.TaxAmount, invoice.Total, invoice.TaxNote).ShouldBe((8.74m, 0m, 8.74m, "Reverse charge"));

        var (fileName, pdf) = await WithAsync<BillingService, (string, byte[])>(b => b.InvoicePdfAsync(owner, invoiceId, Ct));
        fileName.ShouldBe(invoice.Number + ".pdf");
        string text;
        using (var document = PdfDocument.Open(pdf))
        {
            document.NumberOfPages.ShouldBe(1);
            text = string.Join(" ", document.GetPages().SelectMany(p => p.GetWords()).Select(w => w.Text));
        }

        // Compared without white space: the reader places words, not our spaces.
        var flat = Flat(text);
        foreach (var expected in new[]
                 {
                     "INVOICE", invoice.Number, "Hosting GmbH", "10115 Berlin", "DE999999999", "Société Exemple SARL", "75002 Paris", "VAT FR12345678901",
                     "Issued", "2026-02-01", "Due", "2026-02-15", "Period", "2026-01-01 to 2026-01-31",
                     invoice.Lines[0].Description, "9.99 EUR", "Coupon SPRING", "-1.25 EUR",
                     "Net", "8.74 EUR", "TVA 0 %", "0.00 EUR", "Total", "Credited", "-2.00 EUR", "Reverse charge", "CN-2026-000001",
                 })
        {
            flat.ShouldContain(Flat(expected), Case.Sensitive, $"the PDF's text lacks '{expected}': {text}");
        }

        // An admin gets it; another customer, or nobody, does not.
        (await WithAsync<BillingService, (string, byte[])>(b => b.InvoicePdfAsync(Admin, invoiceId, Ct))).Item2.Length.ShouldBeGreaterThan(1000);
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<BillingService, (string, byte[])>(b => b.InvoicePdfAsync(new Actor(Guid.NewGuid(), "o@example.com", false), invoiceId, Ct)));
        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<BillingService, (string, byte[])>(b => b.InvoicePdfAsync(Actor.Anonymous(), invoiceId, Ct)));
    }

    private static string Flat(string s) => Space().Replace(s, "");

    [GeneratedRegex(@"\s+")]
    private static partial Regex Space();
}
