using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Browser;

/// <summary>
/// A customer orders a container in the browser, watches it run, reboots it, snapshots and restores
/// it, backs it up, deletes it; an admin sees the node's allocation change and finds the server in the list of
/// all servers and in the audit log.
/// </summary>
public sealed partial class ServerBrowserTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task Customer_orders_a_container_watches_it_run_reboots_snapshots_restores_and_deletes_it()
    {
        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
        }

        await Fixture.WaitForNodeAsync();
        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;
        page.SetDefaultTimeout(60_000);
        var console = new System.Collections.Concurrent.ConcurrentQueue<string>();
        page.Console += (_, m) => console.Enqueue(m.Type + ": " + m.Text);
        page.FrameNavigated += (_, f) => console.Enqueue("navigated: " + f.Url);
        try
        {
            await OrderAndManageAsync(browser, page);
        }
        catch (Exception ex) when (ex is TimeoutException or PlaywrightException or Shouldly.ShouldAssertException)
        {
            await browser.ScreenshotAsync("2x-failure");
            throw new InvalidOperationException(ex.Message + "\nbrowser console:\n" + string.Join("\n", console.TakeLast(40)) + "\npanel output:\n" + string.Join("\n", Fixture.App.Output.Split('\n').TakeLast(60)), ex);
        }
    }

    private async Task OrderAndManageAsync(BrowserSession browser, IPage page)
    {
        // The admin watches the panel's node: nothing allocated yet.
        await using var admin = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        await AdminSignInAsync(admin.Page);
        await admin.Page.GotoAsync("/admin/nodes");
        await Assertions.Expect(admin.Page.GetByTestId("node-servers").First).ToHaveTextAsync("0");

        var email = NewEmail();
        await SignUpAsync(page, email);

        // Order: plan card, image, host name.
        await Interactive(page, "");
        await page.GetByTestId("home-order").ClickAsync();
        await page.WaitForURLAsync(OrderUrl());
        await Interactive(page, "servers/new");
        await page.Locator("[data-plan='Container S']").ClickAsync();
        await page.Locator("[data-image=busybox]").ClickAsync();
        await Assertions.Expect(page.GetByTestId("order-price")).ToContainTextAsync("for every started hour");
        await page.GetByTestId("hostname").FillAsync("Shop.Example.com");
        await browser.ScreenshotAsync("20-order");
        await page.GetByTestId("order-submit").ClickAsync();

        // Its page shows it provisioning, then running with its address, by itself.
        await page.WaitForURLAsync(ServerUrl());
        await Assertions.Expect(page.Locator("[data-testid=page][data-interactive=true]")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("server-hostname")).ToHaveTextAsync("shop.example.com");
        await Assertions.Expect(page.Locator("[data-testid=vps-status][data-status=Running]")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("server-address")).ToContainTextAsync(".");
        await Assertions.Expect(page.Locator("[data-testid=operation-row][data-kind=Provision][data-status=Succeeded]")).ToBeVisibleAsync();
        await browser.ScreenshotAsync("21-server-running");
        var serverUrl = page.Url;

        // The admin sees the allocation change (the page refreshes by itself), finds the server among
        // all servers by its owner's email, and its order in the audit log.
        await Assertions.Expect(admin.Page.GetByTestId("node-servers").First).ToHaveTextAsync("1");
        await Assertions.Expect(admin.Page.GetByTestId("alloc-memory").First.GetByTestId("meter-text")).ToContainTextAsync("512 MiB of");
        await admin.ScreenshotAsync("25-admin-nodes");
        await admin.Page.GotoAsync("/admin/servers");
        await Assertions.Expect(admin.Page.Locator("[data-testid=page][data-interactive=true]")).ToBeVisibleAsync();
        await admin.Page.GetByTestId("servers-search").FillAsync(email);
        await Assertions.Expect(admin.Page.GetByTestId("admin-server-link")).ToHaveTextAsync("shop.example.com");
        await admin.ScreenshotAsync("26-admin-servers");
        await admin.Page.GetByTestId("servers-search").FillAsync("no-such-server-anywhere");
        await Assertions.Expect(admin.Page.GetByTestId("admin-servers-empty")).ToBeVisibleAsync();
        await admin.Page.GotoAsync("/admin/audit");
        await Assertions.Expect(admin.Page.Locator("[data-testid=page][data-interactive=true]")).ToBeVisibleAsync();
        await admin.Page.GetByTestId("audit-search").FillAsync("shop.example.com");
        await Assertions.Expect(admin.Page.GetByTestId("audit-table").GetByText("vps.create")).ToBeVisibleAsync();
        await admin.ScreenshotAsync("27-admin-audit");

        // Reboot (confirmed).
        await page.GetByTestId("action-reboot").ClickAsync();
        await ConfirmAsync(page, "Reboot");
        await Assertions.Expect(page.Locator("[data-testid=operation-row][data-kind=Reboot][data-status=Succeeded]")).ToBeVisibleAsync();

        // Snapshot, then restore it.
        await page.GetByTestId("snapshot-name").FillAsync("before-update");
        await page.GetByTestId("snapshot-create").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=snapshot-row][data-name=before-update]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=operation-row][data-kind=Snapshot][data-status=Succeeded]")).ToBeVisibleAsync();
        await page.GetByTestId("snapshot-restore").ClickAsync();
        await ConfirmAsync(page, "Restore");
        await Assertions.Expect(page.Locator("[data-testid=operation-row][data-kind=Restore][data-status=Succeeded]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=vps-status][data-status=Running]")).ToBeVisibleAsync();
        // A backup: listed once taken.
        await page.GetByTestId("backup-create").ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=operation-row][data-kind=Backup][data-status=Succeeded]")).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Assertions.Expect(page.GetByTestId("backup-row")).ToHaveCountAsync(1);
        await browser.ScreenshotAsync("22-server-history");

        // Its archive downloads for the owner (with the browser's cookies); an unknown backup is 404.
        await Assertions.Expect(page.GetByTestId("backup-download")).ToBeVisibleAsync();
        var downloadUrl = $"{serverUrl}/backups/{await page.GetByTestId("backup-row").GetAttributeAsync("data-id")}/download";
        var download = await page.APIRequest.GetAsync(downloadUrl);
        download.Status.ShouldBe(200);
        download.Headers["content-disposition"].ShouldContain("shop.example.com-backup-");
        (await download.BodyAsync()).Length.ShouldBeGreaterThan(100);
        (await page.APIRequest.GetAsync($"{serverUrl}/backups/999999/download")).Status.ShouldBe(404);

        // Another customer cannot open it.
        await using (var other = await BrowserSession.StartAsync(Fixture.App.BaseAddress))
        {
            await SignUpAsync(other.Page, NewEmail("other"));
            await other.Page.GotoAsync(serverUrl);
            await Assertions.Expect(other.Page.GetByTestId("server-not-found")).ToBeVisibleAsync();
            (await other.Page.APIRequest.GetAsync(downloadUrl)).Status.ShouldBe(404);
        }

        // Delete (confirmed): the list is empty again.
        await page.GetByTestId("action-delete").ClickAsync();
        await ConfirmAsync(page, "Delete");
        await Assertions.Expect(page.Locator("[data-testid=vps-status][data-status=Deleted]")).ToBeVisibleAsync();
        await page.GotoAsync("/servers");
        await Assertions.Expect(page.GetByTestId("servers-empty")).ToBeVisibleAsync();
        await browser.ScreenshotAsync("23-servers-empty");
    }

    /// <summary>Answers a confirmation dialog with its yes-button.</summary>
    private static Task ConfirmAsync(IPage page, string yes)
        => page.Locator(".mud-dialog-container").GetByRole(AriaRole.Button, new() { Name = yes, Exact = true }).ClickAsync();

    /// <summary>Waits until the page at <paramref name="path"/> runs in its circuit (clicks before that are lost).</summary>
    private static Task Interactive(IPage page, string path)
        => Assertions.Expect(page.Locator($"[data-testid=page][data-interactive=true][data-path='{path}']")).ToBeVisibleAsync();

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
        await Interactive(page, ""); // a click before the circuit runs is lost
    }

    [GeneratedRegex("/servers/new$")]
    private static partial Regex OrderUrl();

    [GeneratedRegex("/servers/[0-9]+$")]
    private static partial Regex ServerUrl();
}
