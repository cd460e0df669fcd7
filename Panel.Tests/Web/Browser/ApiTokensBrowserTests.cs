using System.Net;
using System.Net.Http.Headers;
using Microsoft.Playwright;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Browser;

/// <summary>A customer makes an API token on its page, uses the secret shown once against the API, and revokes it.</summary>
public sealed class ApiTokensBrowserTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task Customer_makes_a_token_uses_it_and_revokes_it()
    {
        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync("/account/signup");
        await page.FillAsync("#email", NewEmail());
        await page.FillAsync("#password", "Good-Passw0rd");
        await page.FillAsync("#confirm", "Good-Passw0rd");
        await page.ClickAsync("[data-testid=signup-submit]");
        await Assertions.Expect(page.GetByTestId("customer-home")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=page][data-interactive=true][data-path='']")).ToBeVisibleAsync(); // a click before the circuit runs is lost

        await page.GetByTestId("nav-api-tokens").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=page][data-interactive=true][data-path='account/api-tokens']")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("tokens-empty")).ToBeVisibleAsync();
        // Customers are offered no admin token and no provisioning scope.
        (await page.GetByTestId("token-admin").CountAsync()).ShouldBe(0);
        (await page.GetByLabel("provisioning").CountAsync()).ShouldBe(0);

        await page.GetByTestId("token-name").FillAsync("deploy script");
        await page.GetByLabel("billing:read").CheckAsync();
        await page.GetByTestId("token-create").ClickAsync();
        var secret = (await page.GetByTestId("token-secret").TextContentAsync())!.Trim();
        secret.ShouldStartWith("vpsp_");
        await Assertions.Expect(page.Locator("[data-testid=token-status][data-status=Active]")).ToHaveCountAsync(1);
        await browser.ScreenshotAsync("30-api-tokens");

        using var http = new HttpClient { BaseAddress = Fixture.App.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        (await http.GetAsync(new Uri("/api/v1/balance", UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await http.GetAsync(new Uri("/api/v1/servers", UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.OK);

        await page.GetByTestId("token-revoke").ClickAsync();
        await page.Locator(".mud-dialog-container").GetByRole(AriaRole.Button, new() { Name = "Revoke", Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=token-status][data-status=Revoked]")).ToHaveCountAsync(1);
        (await http.GetAsync(new Uri("/api/v1/servers", UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }
}
