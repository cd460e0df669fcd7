using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Browser;

/// <summary>
/// An admin walks the catalog and operations pages in the browser: creates a plan (bad input shown on the
/// form, nothing saved) and retires it, adds an IP range and sees who holds an address, finds a customer,
/// opens their servers and locks them, and reads a failed operation's steps and the dashboard's recent errors.
/// </summary>
public sealed class AdminBrowserTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task Admin_manages_plans_ip_pools_customers_and_reads_failed_operations()
    {
        await Fixture.WaitForNodeAsync();
        var email = NewEmail();
        var (subnet, vpsId) = await SeedAsync(email);
        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;
        try
        {
            await SignInAsync(page);
            await PlansAsync(browser, page);
            await IpPoolsAsync(browser, page, subnet);
            await CustomersAsync(browser, page, email, vpsId);
            await OperationsAsync(browser, page);
        }
        catch (Exception ex) when (ex is TimeoutException or PlaywrightException)
        {
            await browser.ScreenshotAsync("3x-admin-failure");
            throw new InvalidOperationException(ex.Message + "\npanel output:\n" + string.Join("\n", Fixture.App.Output.Split('\n').TakeLast(40)), ex);
        }
    }

    private async Task PlansAsync(BrowserSession browser, IPage page)
    {
        await OpenAsync(page, "/admin/plans");
        await page.GetByTestId("plan-new").ClickAsync();
        await page.GetByTestId("plan-name").FillAsync("Browser XL");
        await page.GetByTestId("plan-memory").FillAsync("0");
        await page.GetByTestId("plan-save").ClickAsync();
        await Assertions.Expect(page.GetByTestId("plan-error")).ToContainTextAsync("Memory must be");
        await page.GetByTestId("plan-memory").FillAsync("4096");
        await page.GetByTestId("plan-monthly").FillAsync("-1");
        await page.GetByTestId("plan-save").ClickAsync();
        await Assertions.Expect(page.GetByTestId("plan-error")).ToContainTextAsync("cannot be negative");
        await using (var db = Fixture.Database.CreateContext())
        {
            (await db.Plans.AnyAsync(p => p.Name == "Browser XL")).ShouldBeFalse("refused input saves nothing");
        }

        await page.GetByTestId("plan-monthly").FillAsync("24.50");
        await page.GetByTestId("plan-hourly").FillAsync("0.0336");
        await page.GetByTestId("plan-save").ClickAsync();
        var row = page.GetByTestId("plans").Locator("tr", new() { Has = page.GetByText("Browser XL") });
        await Assertions.Expect(row.GetByTestId("plan-row-prices")).ToHaveTextAsync("24.50 / 0.0336");
        await row.GetByTestId("plan-toggle").ClickAsync();
        await Assertions.Expect(row.GetByTestId("plan-state")).ToHaveTextAsync("retired");
        await browser.ScreenshotAsync("30-admin-plans");
        await using (var db = Fixture.Database.CreateContext())
        {
            var plan = await db.Plans.SingleAsync(p => p.Name == "Browser XL");
            (plan.Active, plan.MemoryBytes, plan.MonthlyPrice, plan.HourlyPrice).ShouldBe((false, 4096L << 20, 24.50m, 0.0336m));
        }

        await OpenAsync(page, "/admin/images");
        await Assertions.Expect(page.GetByTestId("images").GetByText("busybox", new() { Exact = true })).ToBeVisibleAsync();
        await browser.ScreenshotAsync("31-admin-images");
    }

    private async Task IpPoolsAsync(BrowserSession browser, IPage page, string subnet)
    {
        await OpenAsync(page, "/admin/ip-pools");
        // The uplink's addresses are refused, with the reason on the form.
        await page.GetByTestId("range-first").FillAsync("192.0.2.50");
        await page.GetByTestId("range-last").FillAsync("192.0.2.60");
        await page.GetByTestId("range-add").ClickAsync();
        await Assertions.Expect(page.GetByTestId("range-error")).ToContainTextAsync("is not a host address inside");
        await page.GetByTestId("range-first").FillAsync($"{subnet}.2");
        await page.GetByTestId("range-last").FillAsync($"{subnet}.9");
        await page.GetByTestId("range-add").ClickAsync();
        var added = page.GetByTestId("pools").Locator("tr", new() { Has = page.GetByText($"range-{subnet}.2-{subnet}.9") });
        await Assertions.Expect(added.GetByTestId("pool-free")).ToHaveTextAsync("8");

        // The node's own pool: its first address is held by the customer's server.
        var own = page.GetByTestId("pools").Locator("tr", new() { Has = page.GetByText($"{subnet}.0/24") }).Filter(new() { HasNot = page.GetByText("range-") });
        await Assertions.Expect(own.GetByTestId("pool-used")).ToHaveTextAsync("1");
        await own.GetByTestId("pool-addresses").ClickAsync();
        await page.GetByTestId("addresses-used-only").ClickAsync();
        await Assertions.Expect(page.GetByTestId("address-holder")).ToHaveCountAsync(1); // the table reloads: wait for it
        await Assertions.Expect(page.GetByTestId("address-holder")).ToHaveTextAsync("held.example.com");
        await browser.ScreenshotAsync("32-admin-ip-pools");
    }

    private async Task CustomersAsync(BrowserSession browser, IPage page, string email, int vpsId)
    {
        await OpenAsync(page, "/admin/customers");
        await page.GetByTestId("customers-search").FillAsync(email[..16]);
        await Assertions.Expect(page.GetByTestId("customer-link")).ToHaveCountAsync(1); // the search reloads the table: wait for it
        await Assertions.Expect(page.GetByTestId("customer-link")).ToHaveTextAsync(email);
        await page.GetByTestId("customer-link").ClickAsync();
        await Assertions.Expect(page.GetByTestId("customer-email")).ToHaveTextAsync(email);
        await Assertions.Expect(page.GetByTestId("customer-server-link")).ToHaveAttributeAsync("href", $"/servers/{vpsId}");
        await Assertions.Expect(page.Locator("[data-testid=page][data-interactive=true]")).ToBeVisibleAsync();
        await page.GetByTestId("customer-lock").ClickAsync();
        await page.Locator(".mud-dialog-container").GetByRole(AriaRole.Button, new() { Name = "Lock", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("customer-state")).ToHaveTextAsync("locked");
        await browser.ScreenshotAsync("33-admin-customer");
        using var client = Fixture.App.CreateClient();
        (await client.SignInAsync(email, "Customer-Passw0rd")).Headers.Location?.OriginalString.ShouldEndWith("/account/lockout");
        await page.GetByTestId("customer-unlock").ClickAsync();
        await Assertions.Expect(page.GetByTestId("customer-state")).ToHaveTextAsync("active");
        (await client.SignInAsync(email, "Customer-Passw0rd")).StatusCode.ShouldBe(HttpStatusCode.Redirect);
        (await client.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private static async Task OperationsAsync(BrowserSession browser, IPage page)
    {
        await OpenAsync(page, "/admin/operations?failed=true");
        var first = page.GetByTestId("operations").Locator("tbody tr").First;
        await Assertions.Expect(first.GetByTestId("operation-error")).ToHaveTextAsync("the guest did not answer");
        await first.ClickAsync();
        await Assertions.Expect(page.GetByTestId("operation-steps")).ToContainTextAsync("waiting for the guest");
        await browser.ScreenshotAsync("34-admin-operations");

        await OpenAsync(page, "/admin");
        await Assertions.Expect(page.GetByTestId("recent-error")).ToContainTextAsync("the guest did not answer");
        await Assertions.Expect(page.GetByTestId("failing-jobs-link")).ToHaveAttributeAsync("href", "/admin/jobs/jobs/failed");
        await browser.ScreenshotAsync("35-admin-dashboard");
    }

    /// <summary>A customer with a stopped server holding the node pool's first address, and a failed and a succeeded operation on it.</summary>
    private async Task<(string Subnet, int VpsId)> SeedAsync(string email)
    {
        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
        }

        var owner = await Fixture.Services.CreateUserAsync(email, "Customer-Passw0rd", Roles.Customer);
        await using var db = Fixture.Database.CreateContext();
        var node = await db.Nodes.FirstAsync();
        var vps = new Vps
        {
            EngineId = "br" + Guid.NewGuid().ToString("N")[..10], OwnerId = owner.Id, Hostname = "held.example.com", PlanId = (await db.Plans.FirstAsync()).Id,
            ImageId = (await db.Images.FirstAsync()).Id, NodeId = node.Id, MacAddress = "02:00:00:00:02:02", Status = VpsStatus.Stopped, CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
        };
        db.Vpses.Add(vps);
        await db.SaveChangesAsync();
        var subnet = node.GuestNetwork[..node.GuestNetwork.LastIndexOf('.')];
        await db.IpAddresses.Where(a => a.Address == IPAddress.Parse($"{subnet}.10"))
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.VpsId, vps.Id).SetProperty(a => a.AllocatedAt, DateTime.UtcNow));
        var now = DateTime.UtcNow;
        db.Operations.AddRange(
            new Operation
            {
                VpsId = vps.Id, OwnerId = owner.Id, NodeId = node.Id, ActorName = email, Kind = OperationKind.Start, Status = OperationStatus.Failed, Error = "the guest did not answer",
                CreatedAt = now.AddMinutes(-2), FinishedAt = now.AddMinutes(-2),
                Events = [new OperationEvent { At = now.AddMinutes(-2), Progress = 50, Message = "waiting for the guest" }, new OperationEvent { At = now.AddMinutes(-2), Progress = 50, Message = "the guest did not answer", IsError = true }],
            },
            new Operation { VpsId = vps.Id, OwnerId = owner.Id, NodeId = node.Id, ActorName = email, Kind = OperationKind.Stop, Status = OperationStatus.Succeeded, CreatedAt = now, FinishedAt = now });
        await db.SaveChangesAsync();
        return (subnet, vps.Id);
    }

    private static async Task OpenAsync(IPage page, string path)
    {
        await page.GotoAsync(path);
        await Assertions.Expect(page.Locator("[data-testid=page][data-interactive=true]")).ToBeVisibleAsync();
    }

    private static async Task SignInAsync(IPage page)
    {
        await page.GotoAsync("/account/login");
        await page.FillAsync("#email", PanelProcess.AdminEmail);
        await page.FillAsync("#password", PanelProcess.AdminPassword);
        await page.ClickAsync("[data-testid=login-submit]");
        await Assertions.Expect(page.GetByTestId("signed-in-as")).ToHaveTextAsync(PanelProcess.AdminEmail);
    }
}
