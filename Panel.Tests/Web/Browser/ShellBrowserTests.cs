using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Browser;

/// <summary>The panel in a real browser: sign-in, the admin dashboard, sign-up, refusals, theme.</summary>
public sealed partial class ShellBrowserTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task Admin_SignsInWithTheSeededAccount_AndSeesTheAdminDashboard()
    {
        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;

        await page.GotoAsync("/admin");
        await page.WaitForURLAsync(LoginUrl());
        await browser.ScreenshotAsync("01-sign-in");
        await page.FillAsync("#email", PanelProcess.AdminEmail);
        await page.FillAsync("#password", PanelProcess.AdminPassword);
        await page.ClickAsync("[data-testid=login-submit]");

        await page.WaitForURLAsync(AdminUrl());
        await Assertions.Expect(page.GetByTestId("admin-dashboard")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("stat-admins")).ToContainTextAsync("1");
        await Assertions.Expect(page.GetByTestId("no-customers")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("signed-in-as")).ToHaveTextAsync(PanelProcess.AdminEmail);
        // The circuit is live: the drawer toggles without a page load.
        await page.GetByLabel("Toggle navigation").ClickAsync();
        await browser.ScreenshotAsync("02-admin-dashboard");

        await page.GotoAsync("/admin/settings");
        await Assertions.Expect(page.GetByTestId("settings-save")).ToBeVisibleAsync();
        await browser.ScreenshotAsync("03-admin-settings");

        // Dunning settings: a termination before the suspension is refused on the page; a good one is saved.
        await page.GotoAsync("/admin/dunning");
        await Assertions.Expect(page.Locator("[data-testid=page][data-interactive=true]")).ToBeVisibleAsync();
        await page.GetByTestId("dunning-terminate").FillAsync("5");
        await page.GetByTestId("dunning-terminate").PressAsync("Tab");
        await page.GetByTestId("dunning-save").ClickAsync();
        await Assertions.Expect(page.GetByTestId("dunning-error")).ToContainTextAsync("must come after suspension");
        await page.GetByTestId("dunning-terminate").FillAsync("45");
        await page.GetByTestId("dunning-terminate").PressAsync("Tab");
        await page.GetByTestId("dunning-save").ClickAsync();
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("Dunning settings saved.");
        await Assertions.Expect(page.GetByTestId("dunning-error")).ToHaveCountAsync(0);
        await browser.ScreenshotAsync("03b-admin-dunning");

        await page.GotoAsync("/admin/jobs");
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("VpsPanel jobs");
        await browser.ScreenshotAsync("04-admin-jobs");
    }

    [Fact]
    public async Task Customer_SignsUp_AndIsRefusedTheAdminPagesAndTheJobsDashboard()
    {
        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;

        await page.GotoAsync("/account/signup");
        await page.FillAsync("#email", NewEmail());
        await page.FillAsync("#password", "weak");
        await page.FillAsync("#confirm", "weak");
        await page.ClickAsync("[data-testid=signup-submit]");
        await Assertions.Expect(page.Locator(".pf-error").First).ToBeVisibleAsync();
        await browser.ScreenshotAsync("05-sign-up-errors");

        await page.FillAsync("#password", "Good-Passw0rd");
        await page.FillAsync("#confirm", "Good-Passw0rd");
        await page.ClickAsync("[data-testid=signup-submit]");
        await Assertions.Expect(page.GetByTestId("customer-home")).ToBeVisibleAsync();
        await browser.ScreenshotAsync("06-customer-home");

        var admin = await page.GotoAsync("/admin");
        admin!.Status.ShouldBe(403);
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("Access denied");

        var jobs = await page.GotoAsync("/admin/jobs");
        jobs!.Status.ShouldBe(403);
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("Access denied");
        await browser.ScreenshotAsync("07-customer-refused");
    }

    [Fact]
    public async Task ThemeToggle_SwitchesToDark_AndRemembersIt()
    {
        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;
        await page.GotoAsync("/account/login");
        await Assertions.Expect(page.Locator("body")).ToHaveClassAsync(LightClass());

        await page.GetByTestId("theme-toggle").ClickAsync();

        await Assertions.Expect(page.Locator("body")).ToHaveClassAsync(DarkClass());
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("body")).ToHaveClassAsync(DarkClass());
        await browser.ScreenshotAsync("08-sign-in-dark");
    }

    [GeneratedRegex("/account/login")]
    private static partial Regex LoginUrl();

    [GeneratedRegex("/admin$")]
    private static partial Regex AdminUrl();

    [GeneratedRegex("panel-dark")]
    private static partial Regex DarkClass();

    [GeneratedRegex("panel-light")]
    private static partial Regex LightClass();
}
