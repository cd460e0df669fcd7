using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Panel.Core.Domain.Metrics;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Browser;

// The portal's server management in the browser: SSH keys, rename, plan change with its price, access reset, usage graphs.
public sealed partial class ServerBrowserTests
{
    private const string PortalKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAq0Xd3nXiYUAGy0RiLJ3IKb7U0y6v5t8CTgLz1O7DLw portal@test";

    [Fact]
    public async Task Customer_saves_an_SSH_key_renames_a_server_changes_its_plan_seeing_the_price_resets_its_password_and_sees_its_usage()
    {
        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
        }

        await Fixture.WaitForNodeAsync();
        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;
        page.SetDefaultTimeout(60_000);
        try
        {
            await ManageAsync(browser, page);
        }
        catch (Exception ex) when (ex is TimeoutException or PlaywrightException or Shouldly.ShouldAssertException)
        {
            await browser.ScreenshotAsync("3x-failure");
            throw new InvalidOperationException(ex.Message + "\npanel output:\n" + string.Join("\n", Fixture.App.Output.Split('\n').TakeLast(60)), ex);
        }
    }

    private async Task ManageAsync(BrowserSession browser, IPage page)
    {
        await SignUpAsync(page, NewEmail());

        // SSH keys: a bad one is refused where it was typed, a good one is listed with its fingerprint.
        await page.GetByTestId("nav-ssh-keys").ClickAsync();
        await Interactive(page, "ssh-keys");
        await Assertions.Expect(page.GetByTestId("keys-empty")).ToBeVisibleAsync();
        await page.GetByTestId("key-name").FillAsync("laptop");
        await page.GetByTestId("key-public").FillAsync("ssh-ed25519 nonsense");
        await page.GetByTestId("key-add").ClickAsync();
        await Assertions.Expect(page.GetByText("This is not an SSH public key")).ToBeVisibleAsync();
        await page.GetByTestId("key-public").FillAsync(PortalKey);
        await page.GetByTestId("key-add").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=key-row][data-name=laptop]")).ToContainTextAsync("SHA256:UU/2GPx2Mi4WV4dZWXKjPPQUN0PcNeGQ7+H6VRIbS2c");
        await browser.ScreenshotAsync("28-ssh-keys");

        // Order a container.
        await page.GotoAsync("/servers/new");
        await Interactive(page, "servers/new");
        await page.Locator("[data-plan='Container S']").ClickAsync();
        await page.Locator("[data-image=busybox]").ClickAsync();
        await page.GetByTestId("hostname").FillAsync("app.example.com");
        await page.GetByTestId("order-submit").ClickAsync();
        await page.WaitForURLAsync(ServerUrl());
        await Assertions.Expect(page.Locator("[data-testid=vps-status][data-status=Running]")).ToBeVisibleAsync();
        var vpsId = int.Parse(page.Url.Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);

        // Rename: the page shows the new name.
        await Tab(page, "Rename").ClickAsync();
        await page.GetByTestId("rename-hostname").FillAsync("Renamed.Example.com");
        await page.GetByTestId("rename-submit").ClickAsync();
        await Assertions.Expect(page.GetByTestId("server-hostname")).ToHaveTextAsync("renamed.example.com");

        // Change plan: the new plan's resources and price beside the current ones, then the change runs.
        await Tab(page, "Change plan").ClickAsync();
        await page.Locator("[data-testid=plan-option][data-plan='Container M']").ClickAsync();
        await Assertions.Expect(page.GetByTestId("plan-price")).ToContainTextAsync("12.00 EUR/month");
        await Assertions.Expect(page.GetByTestId("plan-compare")).ToContainTextAsync("2 GiB");
        await page.GetByTestId("plan-submit").ClickAsync();
        await ConfirmAsync(page, "Change plan");
        await Assertions.Expect(page.Locator("[data-testid=operation-row][data-kind=Resize][data-status=Succeeded]")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("server-plan")).ToHaveTextAsync("Container M");

        // Reset the root password (confirmed).
        await Tab(page, "Access").ClickAsync();
        await page.GetByTestId("access-password").FillAsync("New-Root-Passw0rd");
        await page.GetByTestId("access-submit").ClickAsync();
        await ConfirmAsync(page, "Reset");
        await Assertions.Expect(page.Locator("[data-testid=operation-row][data-kind=ResetAccess][data-status=Succeeded]")).ToBeVisibleAsync();

        // Usage: minutes sampled before the page looked (the sampling job itself is tested in MetricsTests); the range switch reloads.
        await using (var db = Fixture.Database.CreateContext())
        {
            var now = DateTime.UtcNow;
            var minute = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc);
            for (var i = 5; i >= 3; i--)
            {
                db.VpsMetrics.Add(new VpsMetric { VpsId = vpsId, At = minute.AddMinutes(-i), CpuPercent = 10 * i, MemoryBytes = (40L + i) << 20, DiskUsedBytes = 3L << 20, RxBytesPerSecond = 2048 * i, TxBytesPerSecond = 1024 * i });
            }

            await db.SaveChangesAsync();
        }

        await page.Locator("[data-testid=usage-range][data-range=Day]").ClickAsync();
        await page.Locator("[data-testid=usage-range][data-range=Hour]").ClickAsync();
        // At least the three seeded minutes: the panel's own sampling job may add the current one while the test runs.
        await Assertions.Expect(page.GetByTestId("usage-charts")).ToHaveAttributeAsync("data-points", new System.Text.RegularExpressions.Regex("^([3-9]|[1-9][0-9]+)$"));
        await Assertions.Expect(page.Locator("[data-testid=usage-chart][data-metric=cpu] svg path").First).ToBeAttachedAsync();
        await Assertions.Expect(page.GetByTestId("usage-chart")).ToHaveCountAsync(4);
        await browser.ScreenshotAsync("29-server-manage");
    }

    /// <summary>A tab of the server's Manage panel.</summary>
    private static ILocator Tab(IPage page, string name)
        => page.GetByTestId("manage").Locator(".mud-tab", new() { HasTextString = name });
}
