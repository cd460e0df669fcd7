using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Tests.Core.Hosting;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Browser;

/// <summary>
/// A customer adds a website in the browser (bad input shown on the form), watches its container come up,
/// uploads a zip and sees the site listed; curl through the panel's real edge gets the content, and the
/// request shows in the site's recent requests. Another customer cannot open it; the admin finds it among
/// all websites beside the edge's health; the customer deletes it, runs a site with its own web server (its start
/// command changed on its page, its output shown), moves to a bigger plan and cancels the hosting.
/// </summary>
public sealed partial class WebsitesBrowserTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task Customer_adds_a_site_uploads_a_zip_and_it_is_served_through_the_edge()
    {
        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
            await scope.ServiceProvider.GetRequiredService<HostingService>().CreatePlanAsync(Actor.System,
                new HostingPlanRequest("Web Browser", 2, 256L << 20, null, 1, 128L << 20, 3.50m));
            await scope.ServiceProvider.GetRequiredService<HostingService>().CreatePlanAsync(Actor.System,
                new HostingPlanRequest("Web Browser Plus", 5, 512L << 20, null, 1, 192L << 20, 6.00m));
        }

        await Fixture.WaitForNodeAsync();
        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;
        page.SetDefaultTimeout(30_000);
        try
        {
            await WalkAsync(browser, page);
        }
        catch (Exception ex) when (ex is TimeoutException or PlaywrightException or Shouldly.ShouldAssertException)
        {
            await browser.ScreenshotAsync("3x-websites-failure");
            throw new InvalidOperationException(ex.Message + "\npanel output:\n" + string.Join("\n", Fixture.App.Output.Split('\n').TakeLast(60)), ex);
        }
        finally
        {
            await RemoveContainersAsync();
        }
    }

    private async Task WalkAsync(BrowserSession browser, IPage page)
    {
        var email = NewEmail();
        await page.GotoAsync("/account/signup");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", "Good-Passw0rd");
        await page.FillAsync("#confirm", "Good-Passw0rd");
        await page.ClickAsync("[data-testid=signup-submit]");
        await Assertions.Expect(page.GetByTestId("customer-home")).ToBeVisibleAsync();
        await Interactive(page, "");
        await page.GetByTestId("nav-websites").ClickAsync();
        await Interactive(page, "websites");
        await Assertions.Expect(page.GetByTestId("sites-empty")).ToBeVisibleAsync();

        // Bad input is shown on the form and nothing is added.
        await page.GetByTestId("site-domain").FillAsync("bad_name!.test");
        await page.Locator("[data-plan='Web Browser']").ClickAsync();
        await page.GetByTestId("site-add").ClickAsync();
        await Assertions.Expect(page.GetByText("not a valid domain name")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("sites-empty")).ToBeVisibleAsync();

        // A site with an alias: its page shows it setting up, then live (the container provisioned by the usual job).
        await page.GetByTestId("site-domain").FillAsync("Shop.Example.TEST");
        await page.GetByTestId("site-aliases").FillAsync("www.shop.example.test");
        await page.GetByTestId("site-add").ClickAsync();
        await page.WaitForURLAsync(SiteUrl());
        await Interactive(page, page.Url[(page.Url.IndexOf("websites/", StringComparison.Ordinal))..]);
        await Assertions.Expect(page.GetByTestId("site-domain-title")).ToHaveTextAsync("shop.example.test");
        await Assertions.Expect(page.GetByTestId("alias-row")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=site-state][data-state=Live]")).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Assertions.Expect(page.GetByTestId("site-certificate")).ToContainTextAsync("UTC");
        // The certificate's issuer and source; this installation has no ACME server, so no "Let's Encrypt" button.
        await Assertions.Expect(page.GetByTestId("site-certificate-issuer")).ToContainTextAsync("The panel's own CA (VpsPanel Edge CA)");
        await Assertions.Expect(page.GetByTestId("site-certificate-source")).ToHaveAttributeAsync("data-source", "PanelCa");
        await Assertions.Expect(page.GetByTestId("site-certificate-no-acme")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("site-certificate-use-acme")).ToHaveCountAsync(0);
        var siteUrl = page.Url;

        // A zip with a page: uploaded, checked, live.
        using (var zip = SiteArchiveTests.Zip(("index.html", "<h1>shop in the browser</h1>", 0), ("about/index.html", "about us", 0)))
        {
            await page.GetByTestId("site-upload").SetInputFilesAsync(new FilePayload { Name = "site.zip", MimeType = "application/zip", Buffer = zip.ToArray() });
        }

        await Assertions.Expect(page.GetByTestId("site-content-bytes")).ToHaveAttributeAsync("data-bytes", "36");

        // Through the panel's real edge, by the site's name and its alias.
        (await HostingTests.CurlAsync("shop.example.test", Fixture.App.EdgeHttpPort, "/")).ShouldBe((200, "<h1>shop in the browser</h1>"));
        (await HostingTests.CurlAsync("www.shop.example.test", Fixture.App.EdgeHttpPort, "/about/")).ShouldBe((200, "about us"));
        await Assertions.Expect(page.Locator("[data-testid=access-row][data-status='200'][data-path='/about/']")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("access-row")).ToHaveCountAsync(2);

        // The file manager: the zip's files, a folder opened, one more file uploaded into it and served.
        await page.GetByTestId("files-load").ClickAsync();
        await Assertions.Expect(page.GetByTestId("file-row")).ToHaveCountAsync(2);
        await page.GetByTestId("file-folder").ClickAsync();
        await Assertions.Expect(page.GetByTestId("files-path")).ToContainTextAsync("about");
        await Assertions.Expect(page.Locator("[data-testid=file-row][data-name='index.html']")).ToHaveCountAsync(1);
        await page.GetByTestId("file-upload").SetInputFilesAsync(new FilePayload { Name = "team.html", MimeType = "text/html", Buffer = "the team"u8.ToArray() });
        await Assertions.Expect(page.Locator("[data-testid=file-row][data-name='team.html']")).ToBeVisibleAsync();
        (await HostingTests.CurlAsync("shop.example.test", Fixture.App.EdgeHttpPort, "/about/team.html")).ShouldBe((200, "the team"));
        await browser.ScreenshotAsync("30-website-detail");

        // Redirect HTTP to HTTPS, switched on the page: plain HTTP gets a 301 to the same page over HTTPS (the edge's
        // HTTPS port), ACME's challenge path is left alone; switched off, HTTP serves again.
        await page.GetByText("Redirect HTTP to HTTPS", new() { Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=site-force-https][data-on=true]")).ToBeVisibleAsync();
        (await UntilRedirectAsync("shop.example.test", "/about/?from=http", 301)).ShouldBe((301, $"https://shop.example.test:{Fixture.App.EdgeHttpsPort}/about/?from=http"));
        (await HostingTests.RedirectAsync("www.shop.example.test", Fixture.App.EdgeHttpPort, "/")).ShouldBe((301, $"https://www.shop.example.test:{Fixture.App.EdgeHttpsPort}/"));
        (await HostingTests.RedirectAsync("shop.example.test", Fixture.App.EdgeHttpPort, "/.well-known/acme-challenge/unknown")).Status.ShouldNotBe(301);
        await page.GetByText("Redirect HTTP to HTTPS", new() { Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=site-force-https][data-on=false]")).ToBeVisibleAsync();
        (await UntilRedirectAsync("shop.example.test", "/about/", 200)).Status.ShouldBe(200);
        (await HostingTests.CurlAsync("shop.example.test", Fixture.App.EdgeHttpPort, "/about/")).ShouldBe((200, "about us"));

        // Listed with its alias and state.
        await page.GetByTestId("nav-websites").ClickAsync();
        await Interactive(page, "websites");
        await Assertions.Expect(page.GetByTestId("site-link")).ToHaveCountAsync(1);
        await Assertions.Expect(page.GetByTestId("site-link")).ToHaveTextAsync("shop.example.test");
        await Assertions.Expect(page.GetByTestId("sites-table")).ToContainTextAsync("www.shop.example.test");
        await Assertions.Expect(page.GetByTestId("sites-table").Locator("[data-testid=site-state][data-state=Live]")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("space-sites")).ToHaveTextAsync("1 of 2");

        // SFTP: the line to connect with; a short password is refused on the form, a good one set and used by the real sftp.
        await Assertions.Expect(page.GetByTestId("sftp-command")).ToContainTextAsync("web@127.0.0.1");
        var sftpPort = int.Parse(await page.GetByTestId("sftp-port").InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture);
        await Assertions.Expect(page.GetByTestId("sftp-command")).ToHaveTextAsync($"sftp -P {sftpPort} web@127.0.0.1");
        await Assertions.Expect(page.GetByTestId("sftp-password-state")).ToContainTextAsync("none");
        await page.GetByTestId("sftp-password").FillAsync("short");
        await page.GetByTestId("sftp-password-set").ClickAsync();
        await Assertions.Expect(page.GetByText("An SFTP password has 8-128 characters.")).ToBeVisibleAsync();
        await page.GetByTestId("sftp-password").FillAsync("browser sftp pw");
        await page.GetByTestId("sftp-password-set").ClickAsync();
        await Assertions.Expect(page.GetByTestId("sftp-password-state")).ToHaveTextAsync("set");
        SftpTests.RequireTool("sshpass");
        var local = Path.Combine(Path.GetTempPath(), $"panel-sftp-{Guid.NewGuid():N}.html");
        try
        {
            await File.WriteAllTextAsync(local, "sent by sftp");
            var siteId = siteUrl[(siteUrl.LastIndexOf('/') + 1)..];
            var put = await SftpTests.SftpAsync(sftpPort, $"cd {siteId}\nput {local} sftp.html\n", password: "browser sftp pw");
            put.ExitCode.ShouldBe(0, put.StdErr);
        }
        finally
        {
            File.Delete(local);
        }

        (await HostingTests.CurlAsync("shop.example.test", Fixture.App.EdgeHttpPort, "/sftp.html")).ShouldBe((200, "sent by sftp"));
        await browser.ScreenshotAsync("31-websites");

        // Its container is no server of the customer's.
        await page.GetByTestId("nav-servers").ClickAsync();
        await Assertions.Expect(page.GetByTestId("servers-empty")).ToBeVisibleAsync();

        // Another customer: not found.
        await using (var other = await BrowserSession.StartAsync(Fixture.App.BaseAddress))
        {
            await other.Page.GotoAsync("/account/signup");
            await other.Page.FillAsync("#email", NewEmail("other"));
            await other.Page.FillAsync("#password", "Good-Passw0rd");
            await other.Page.FillAsync("#confirm", "Good-Passw0rd");
            await other.Page.ClickAsync("[data-testid=signup-submit]");
            await Assertions.Expect(other.Page.GetByTestId("customer-home")).ToBeVisibleAsync();
            await other.Page.GotoAsync(siteUrl);
            await Assertions.Expect(other.Page.GetByTestId("site-not-found")).ToBeVisibleAsync();
        }

        // The admin: every website with its tenant, and the edge's health.
        await using (var admin = await BrowserSession.StartAsync(Fixture.App.BaseAddress))
        {
            await admin.Page.GotoAsync("/account/login");
            await admin.Page.FillAsync("#email", PanelProcess.AdminEmail);
            await admin.Page.FillAsync("#password", PanelProcess.AdminPassword);
            await admin.Page.ClickAsync("[data-testid=login-submit]");
            await Assertions.Expect(admin.Page.GetByTestId("signed-in-as")).ToHaveTextAsync(PanelProcess.AdminEmail);
            await Interactive(admin.Page, "admin");
            await admin.Page.GetByTestId("nav-admin-sites").ClickAsync();
            await Interactive(admin.Page, "admin/sites");
            await Assertions.Expect(admin.Page.Locator("[data-testid=edge-health][data-running=true]")).ToBeVisibleAsync();
            await Assertions.Expect(admin.Page.GetByTestId("edge-listening")).ToContainTextAsync($"http://127.0.0.1:{Fixture.App.EdgeHttpPort}");
            await Assertions.Expect(admin.Page.GetByTestId("edge-routes")).ToHaveAttributeAsync("data-routes", "1");
            await Assertions.Expect(admin.Page.GetByTestId("edge-certificate")).ToHaveCountAsync(1);
            await admin.Page.GetByTestId("sites-search").FillAsync(email);
            await Assertions.Expect(admin.Page.GetByTestId("admin-site-link")).ToHaveCountAsync(1);
            await Assertions.Expect(admin.Page.GetByTestId("admin-site-owner")).ToHaveTextAsync(email);
            await admin.ScreenshotAsync("32-admin-websites");
        }

        // Deleted (confirmed): gone from the list and from the edge.
        await page.GotoAsync(siteUrl);
        await Interactive(page, siteUrl[siteUrl.IndexOf("websites/", StringComparison.Ordinal)..]);
        await page.GetByTestId("site-delete").ClickAsync();
        await page.Locator(".mud-dialog-container").GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(ListUrl());
        await Assertions.Expect(page.GetByTestId("sites-empty")).ToBeVisibleAsync();
        (await HostingTests.CurlAsync("shop.example.test", Fixture.App.EdgeHttpPort, "/")).Status.ShouldBe(404);

        // A site with its own web server: its start command given on the form, changed on its page (saved, the server
        // restarted with it), and the server's output shown there.
        const string first = "mkdir -p www && echo one > www/index.html && echo serving one && exec busybox httpd -f -p $PORT -h www";
        const string second = "mkdir -p www && echo two > www/index.html && echo serving two && exec busybox httpd -f -p $PORT -h www";
        await page.GetByText("My own web server", new() { Exact = true }).ClickAsync();
        await page.GetByTestId("site-command").FillAsync(first);
        await page.GetByTestId("site-domain").FillAsync("app.example.test");
        await page.GetByTestId("site-add").ClickAsync();
        await page.WaitForURLAsync(SiteUrl());
        var appUrl = page.Url;
        await Interactive(page, appUrl[appUrl.IndexOf("websites/", StringComparison.Ordinal)..]);
        await Assertions.Expect(page.Locator("[data-testid=site-state][data-state=Live]")).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Assertions.Expect(page.GetByTestId("site-command-edit")).ToHaveValueAsync(first);
        await Assertions.Expect(page.GetByTestId("site-command-save")).ToBeDisabledAsync();
        await HostingTests.UntilAsync("app.example.test", Fixture.App.EdgeHttpPort, body => body == "one");
        await page.GetByTestId("site-command-edit").FillAsync(second);
        await page.GetByTestId("site-command-save").ClickAsync();
        await Assertions.Expect(page.GetByTestId("site-command-save")).ToBeDisabledAsync();
        await HostingTests.UntilAsync("app.example.test", Fixture.App.EdgeHttpPort, body => body == "two");
        await page.GetByTestId("site-server-log-load").ClickAsync();
        await Assertions.Expect(page.GetByTestId("site-server-log")).ToContainTextAsync("serving two");
        await browser.ScreenshotAsync("33-website-own-server");
        await page.GetByTestId("site-delete").ClickAsync();
        await page.Locator(".mud-dialog-container").GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(ListUrl());
        await Assertions.Expect(page.GetByTestId("sites-empty")).ToBeVisibleAsync();

        // A bigger plan (confirmed, with its price): the space shows it at once and the container is resized.
        await page.Locator("[data-testid=change-plans] [data-plan='Web Browser Plus']").ClickAsync();
        await page.GetByTestId("change-plan-submit").ClickAsync();
        await Assertions.Expect(page.Locator(".mud-dialog-container")).ToContainTextAsync("6.00 a month");
        await page.Locator(".mud-dialog-container").GetByRole(AriaRole.Button, new() { Name = "Change plan", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("space-plan")).ToHaveTextAsync("Web Browser Plus");
        await Assertions.Expect(page.GetByTestId("space-sites")).ToHaveTextAsync("0 of 5");
        await WaitContainerIdleAsync();

        // Cancelled (confirmed): the hosting space goes, the form offers the plans again for a new start.
        await page.GetByTestId("hosting-cancel").ClickAsync();
        await page.Locator(".mud-dialog-container").GetByRole(AriaRole.Button, new() { Name = "Cancel hosting", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("hosting-space")).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByTestId("site-plans")).ToBeVisibleAsync();
        await using var check = Fixture.Database.CreateContext();
        (await check.Operations.AnyAsync(o => o.Kind == OperationKind.Resize && o.Status == OperationStatus.Succeeded && o.VpsId != null && HostingBoxes(check).Contains(o.VpsId.Value))).ShouldBeTrue();
        (await check.Operations.AnyAsync(o => o.Kind == OperationKind.Delete && o.VpsId != null && HostingBoxes(check).Contains(o.VpsId.Value))).ShouldBeTrue();
    }

    /// <summary>Polls (up to 20 s, plain HTTP) until <paramref name="path"/> answers <paramref name="status"/> (the edge reloads after a change).</summary>
    private async Task<(int Status, string Location)> UntilRedirectAsync(string host, string path, int status)
    {
        (int Status, string Location) last = default;
        for (var i = 0; i < 80; i++)
        {
            last = await HostingTests.RedirectAsync(host, Fixture.App.EdgeHttpPort, path);
            if (last.Status == status)
            {
                return last;
            }

            await Task.Delay(250);
        }

        throw new Shouldly.ShouldAssertException($"{host}{path} did not answer {status} within 20 s; last: {last.Status} {last.Location}");
    }

    /// <summary>The VPS rows of hosting containers (those on a hosting plan's compute plan), also after their space went.</summary>
    private static IQueryable<int> HostingBoxes(Panel.Core.Persistence.PanelDbContext db)
        => db.Vpses.Where(v => db.HostingPlans.Any(h => h.ComputePlanId == v.PlanId)).Select(v => v.Id);

    /// <summary>Waits (up to 90 s) until no operation runs on a hosting container.</summary>
    private async Task WaitContainerIdleAsync()
    {
        for (var i = 0; i < 450; i++)
        {
            await using var db = Fixture.Database.CreateContext();
            if (!await db.Vpses.AnyAsync(v => HostingBoxes(db).Contains(v.Id) && v.BusyOperationId != null))
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("a hosting container stayed busy for 90 s");
    }

    /// <summary>Deletes the hosting containers the test made (through the panel's jobs) and waits until they are gone.</summary>
    private async Task RemoveContainersAsync()
    {
        List<int> boxes;
        await using (var db = Fixture.Database.CreateContext())
        {
            boxes = await HostingBoxes(db).ToListAsync();
        }

        var (scope, vpses) = Fixture.Resolve<VpsService>();
        await using (scope)
        {
            foreach (var id in boxes)
            {
                var deadline = DateTime.UtcNow.AddSeconds(90);
                while (DateTime.UtcNow < deadline)
                {
                    await using var db = Fixture.Database.CreateContext();
                    var vps = await db.Vpses.AsNoTracking().FirstAsync(v => v.Id == id);
                    if (vps.Status == VpsStatus.Deleted)
                    {
                        break;
                    }

                    if (vps.BusyOperationId is null)
                    {
                        await vpses.DeleteAsync(Actor.System, id);
                    }

                    await Task.Delay(200);
                }

                await using var check = Fixture.Database.CreateContext();
                (await check.Vpses.Where(v => v.Id == id).Select(v => v.Status).FirstAsync()).ShouldBe(VpsStatus.Deleted);
                (await check.Operations.AnyAsync(o => o.VpsId == id && o.Kind == OperationKind.Delete && o.Status == OperationStatus.Succeeded)).ShouldBeTrue();
            }
        }
    }

    /// <summary>Waits until the page at <paramref name="path"/> runs in its circuit (clicks before that are lost).</summary>
    private static Task Interactive(IPage page, string path)
        => Assertions.Expect(page.Locator($"[data-testid=page][data-interactive=true][data-path='{path}']")).ToBeVisibleAsync();

    [GeneratedRegex("/websites/[0-9]+$")]
    private static partial Regex SiteUrl();

    [GeneratedRegex("/websites$")]
    private static partial Regex ListUrl();
}
