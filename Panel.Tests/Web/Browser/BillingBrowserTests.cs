using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;
using UglyToad.PdfPig;

namespace Panel.Tests.Web.Browser;

/// <summary>
/// The billing pages in the browser: a customer sees an invoice, downloads its PDF (another customer
/// gets 404 for it) and pays it from credit; an admin adds a tax rate and a coupon.
/// </summary>
public sealed class BillingBrowserTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task Customer_sees_an_invoice_downloads_its_pdf_and_pays_it_from_credit_and_an_admin_adds_a_tax_rate_and_a_coupon()
    {
        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;
        page.SetDefaultTimeout(30_000);
        try
        {
            await RunAsync(browser, page);
        }
        catch (Exception ex) when (ex is TimeoutException or PlaywrightException or Shouldly.ShouldAssertException)
        {
            await browser.ScreenshotAsync("4x-failure");
            throw new InvalidOperationException(ex.Message + "\npanel output:\n" + string.Join("\n", Fixture.App.Output.Split('\n').TakeLast(40)), ex);
        }
    }

    private async Task RunAsync(BrowserSession browser, IPage page)
    {
        var email = NewEmail();
        await SignUpAsync(page, email);
        var (invoiceId, number) = await InvoiceForAsync(email);

        // Home lists it among the open invoices.
        await page.GotoAsync("/");
        await Assertions.Expect(page.GetByTestId("home-open-invoice").First).ToContainTextAsync(number);

        // The invoice list, then the invoice.
        await page.GotoAsync("/billing");
        await Interactive(page);
        await Assertions.Expect(page.GetByTestId("invoice-link").First).ToHaveTextAsync(number);
        await Assertions.Expect(page.GetByTestId("balance")).ToContainTextAsync("20.00");
        await browser.ScreenshotAsync("40-billing");
        await page.GetByTestId("invoice-link").First.ClickAsync();
        await Assertions.Expect(page.GetByTestId("invoice-number")).ToHaveTextAsync(number);
        await Interactive(page);
        await Assertions.Expect(page.GetByTestId("invoice-line").First).ToContainTextAsync("shop.billing.example");
        await Assertions.Expect(page.Locator("[data-testid=invoice-status][data-status=Open]")).ToBeVisibleAsync();
        await browser.ScreenshotAsync("41-invoice");

        // Its PDF, with the session's cookie: a real PDF with the number; another customer gets 404.
        var pdfPath = Panel.Web.Hosting.BillingEndpoints.InvoicePdfPath(invoiceId);
        var response = await page.Context.APIRequest.GetAsync(pdfPath);
        response.Status.ShouldBe(200);
        response.Headers["content-type"].ShouldBe("application/pdf");
        using (var pdf = PdfDocument.Open(await response.BodyAsync()))
        {
            string.Concat(pdf.GetPages().Select(p => p.Text)).ShouldContain(number);
        }

        await using (var other = await BrowserSession.StartAsync(Fixture.App.BaseAddress))
        {
            await SignUpAsync(other.Page, NewEmail("other"));
            (await other.Page.Context.APIRequest.GetAsync(pdfPath)).Status.ShouldBe(404);
            await other.Page.GotoAsync($"/billing/invoices/{invoiceId}");
            await Assertions.Expect(other.Page.GetByTestId("invoice-not-found")).ToBeVisibleAsync();
        }

        // Pay from credit.
        await page.GetByTestId("invoice-pay").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=invoice-status][data-status=Paid]")).ToBeVisibleAsync();
        await browser.ScreenshotAsync("42-invoice-paid");

        // The admin adds a tax rate and a coupon.
        await using var admin = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        await AdminSignInAsync(admin.Page);
        await admin.Page.GotoAsync("/admin/billing");
        await Interactive(admin.Page);
        await Assertions.Expect(admin.Page.GetByTestId("admin-invoice-link").First).ToHaveTextAsync(number);
        await admin.ScreenshotAsync("43-admin-invoices");
        await admin.Page.GetByRole(AriaRole.Tab, new() { Name = "Tax rates" }).ClickAsync();
        await admin.Page.GetByTestId("tax-country").FillAsync("de");
        await admin.Page.GetByTestId("tax-rate").FillAsync("19");
        await admin.Page.GetByTestId("tax-save").ClickAsync();
        await Assertions.Expect(admin.Page.Locator("[data-testid=tax-rate-row][data-country=DE]")).ToContainTextAsync("19.00 %");
        await admin.ScreenshotAsync("44-admin-tax-rates");
        await admin.Page.GetByRole(AriaRole.Tab, new() { Name = "Coupons" }).ClickAsync();
        await admin.Page.GetByTestId("coupon-new-code").FillAsync("welcome-10");
        await admin.Page.GetByTestId("coupon-new-value").FillAsync("10");
        await admin.Page.GetByTestId("coupon-create").ClickAsync();
        await Assertions.Expect(admin.Page.GetByTestId("coupon-row-code")).ToHaveTextAsync("WELCOME-10");
        await admin.ScreenshotAsync("45-admin-coupons");
        await admin.Page.GetByRole(AriaRole.Tab, new() { Name = "Revenue" }).ClickAsync();
        await Assertions.Expect(admin.Page.GetByTestId("revenue-row").First).ToBeVisibleAsync();
        await admin.ScreenshotAsync("46-admin-revenue");

        await using var db = Fixture.Database.CreateContext();
        (await db.TaxRates.SingleAsync(r => r.CountryCode == "DE")).RatePercent.ShouldBe(19m);
        (await db.Coupons.SingleAsync()).Code.ShouldBe("WELCOME-10");
        (await db.Invoices.SingleAsync(i => i.Id == invoiceId)).Status.ShouldBe(InvoiceStatus.Paid);
    }

    /// <summary>
    /// The customer (signed up 40 days ago, as far as billing knows) had a server for five days, which the
    /// real invoice run bills; 20.00 of credit arrives afterwards (written directly, as a gateway would).
    /// </summary>
    private async Task<(long Id, string Number)> InvoiceForAsync(string email)
    {
        var now = DateTime.UtcNow;
        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
        }

        Guid customer;
        await using (var db = Fixture.Database.CreateContext())
        {
            var user = await db.Users.SingleAsync(u => u.Email == email);
            customer = user.Id;
            await db.Users.Where(u => u.Id == customer).ExecuteUpdateAsync(s => s.SetProperty(u => u.CreatedAt, now.AddDays(-40)));
            var plan = await db.Plans.FirstAsync(p => p.Name == "Container S");
            var image = await db.Images.FirstAsync();
            db.Vpses.Add(new Vps
            {
                EngineId = "vbill" + Guid.NewGuid().ToString("N")[..8], OwnerId = customer, Hostname = "shop.billing.example", PlanId = plan.Id, ImageId = image.Id,
                MacAddress = "02:00:00:00:00:09", Vcpus = 1, MemoryBytes = 512L << 20, DiskBytes = 5L << 30, MaxProcesses = 512, Status = VpsStatus.Deleted,
                CreatedAt = now.AddDays(-40), UpdatedAt = now.AddDays(-35), DeletedAt = now.AddDays(-35),
            });
            await db.SaveChangesAsync();
        }

        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            (await scope.ServiceProvider.GetRequiredService<InvoicingService>().IssueDueAsync()).Issued.ShouldBeGreaterThanOrEqualTo(1);
        }

        await using (var db = Fixture.Database.CreateContext())
        {
            var invoice = await db.Invoices.Where(i => i.CustomerId == customer).OrderByDescending(i => i.Id).FirstAsync(); // the newest: first in the list
            invoice.Total.ShouldBeLessThan(20m);
            var balance = await db.LedgerEntries.Where(e => e.CustomerId == customer).OrderByDescending(e => e.Id).Select(e => (decimal?)e.BalanceAfter).FirstOrDefaultAsync() ?? 0m;
            db.LedgerEntries.Add(new LedgerEntry { CustomerId = customer, At = now, Kind = LedgerEntryKind.Payment, Amount = 20m, BalanceAfter = balance + 20m, Reference = "gateway", ActorName = "test" });
            await db.SaveChangesAsync();
            return (invoice.Id, invoice.Number);
        }
    }

    private static Task Interactive(IPage page) => Assertions.Expect(page.Locator("[data-testid=page][data-interactive=true]")).ToBeVisibleAsync();

    private static async Task AdminSignInAsync(IPage page)
    {
        await page.GotoAsync("/account/login");
        await page.FillAsync("#email", PanelProcess.AdminEmail);
        await page.FillAsync("#password", PanelProcess.AdminPassword);
        await page.ClickAsync("[data-testid=login-submit]");
        await Assertions.Expect(page.GetByTestId("signed-in-as")).ToHaveTextAsync(PanelProcess.AdminEmail);
    }

    private static async Task SignUpAsync(IPage page, string email)
    {
        await page.GotoAsync("/account/signup");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", "Good-Passw0rd");
        await page.FillAsync("#confirm", "Good-Passw0rd");
        await page.ClickAsync("[data-testid=signup-submit]");
        await Assertions.Expect(page.GetByTestId("customer-home")).ToBeVisibleAsync();
    }
}
