using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Browser;

/// <summary>
/// The web console against the real panel process and a real container: a customer signs in on
/// the guest's console in Chromium and runs a command; another customer, talking to the hub
/// directly with their own cookie, can neither open, read, type into nor resize it.
/// </summary>
public sealed partial class ConsoleBrowserTests(PanelFixture fixture) : PanelTest(fixture)
{
    private const string CustomerPassword = "Customer-Passw0rd", RootPassword = "Console-Passw0rd";
    private readonly List<int> created = [];

    [Fact]
    public async Task Customer_opens_the_console_of_a_running_container_signs_in_and_sees_the_output_of_hostname()
    {
        var (owner, email) = await NewCustomerAsync();
        var vpsId = await RunningVpsAsync(owner, "console1.example.com");
        var engineId = await EngineIdAsync(vpsId);

        await using var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress);
        var page = browser.Page;
        page.SetDefaultTimeout(30_000);
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        page.Console += (_, m) => log.Enqueue(m.Type + ": " + m.Text);
        try
        {
            await SignInAsync(page, email);

            // The server's page offers the console while it runs.
            await page.GotoAsync($"/servers/{vpsId}");
            await Assertions.Expect(page.Locator($"[data-testid=page][data-interactive=true][data-path='servers/{vpsId}']")).ToBeVisibleAsync();
            await page.GetByTestId("action-console").ClickAsync();
            await page.WaitForURLAsync(ConsoleUrl());
            await Assertions.Expect(page.Locator("[data-testid=console-status][data-state=connected]")).ToBeVisibleAsync();

            // The panel sent a newline: the guest's login prompt is there without a key pressed.
            await WaitForTerminalAsync(page, "login:");
            await page.GetByTestId("console-terminal").ClickAsync();
            await page.Keyboard.TypeAsync("root");
            await page.Keyboard.PressAsync("Enter");
            await WaitForTerminalAsync(page, "Password:");
            await page.Keyboard.TypeAsync(RootPassword);
            await page.Keyboard.PressAsync("Enter");
            await page.WaitForFunctionAsync("() => /#\\s*$/.test(window.vpsConsole.text().trimEnd())");
            await page.Keyboard.TypeAsync("hostname");
            await page.Keyboard.PressAsync("Enter");

            // Only the command's output is a line of its own that is exactly the host name.
            await page.WaitForFunctionAsync("name => window.vpsConsole.text().split('\\n').some(l => l.trim() === name)", "console1.example.com");
            (await TerminalTextAsync(page)).ShouldNotContain("Login incorrect");
            await browser.ScreenshotAsync("24-server-console");

            // The opening is in the audit log.
            await using (var db = Fixture.Database.CreateContext())
            {
                (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.VpsConsole && e.Target == $"vps:{vpsId}" && e.ActorId == owner.UserId)).ShouldBe(1);
            }

            // Leaving the page closes the console: nothing of it stays on the host.
            (await ConsoleProcessesAsync(engineId)).ShouldBeGreaterThan(0);
            await page.GetByTestId("console-back").ClickAsync();
            await page.WaitForURLAsync(ServerUrl());
            await WaitForNoConsoleProcessesAsync(engineId);

            // Open again, then the server stops: the page says the console closed, and after a reload that it is not running.
            // (The guest's console keeps its state like a real one: root's shell is still there.)
            await page.GoBackAsync();
            await Assertions.Expect(page.Locator("[data-testid=console-status][data-state=connected]")).ToBeVisibleAsync();
            await page.WaitForFunctionAsync("() => /(login:|#)\\s*$/.test(window.vpsConsole.text().trimEnd())");
            var (scope, vpses) = Fixture.Resolve<VpsService>();
            await using (scope)
            {
                (await WaitForOperationAsync(await vpses.StopAsync(owner, vpsId))).Status.ShouldBe(OperationStatus.Succeeded);
            }

            await Assertions.Expect(page.Locator("[data-testid=console-status][data-state=closed]")).ToBeVisibleAsync();
            await Assertions.Expect(page.GetByTestId("console-status")).ToHaveTextAsync("the console closed");
            await page.ReloadAsync();
            await Assertions.Expect(page.GetByTestId("console-not-running")).ToContainTextAsync("console1.example.com is not running");
        }
        catch (Exception ex) when (ex is TimeoutException or PlaywrightException or Shouldly.ShouldAssertException)
        {
            await browser.ScreenshotAsync("24-console-failure");
            throw new InvalidOperationException(
                ex.Message + "\nterminal:\n" + await SafeTerminalTextAsync(page) + "\nbrowser console:\n" + string.Join("\n", log.TakeLast(30))
                + "\npanel output:\n" + string.Join("\n", Fixture.App.Output.Split('\n').TakeLast(40)), ex);
        }
    }

    [Fact]
    public async Task Another_customer_can_neither_open_read_type_into_nor_resize_a_console_that_is_not_theirs()
    {
        var (owner, ownerEmail) = await NewCustomerAsync();
        var (_, otherEmail) = await NewCustomerAsync("other");
        var vpsId = await RunningVpsAsync(owner, "mine.example.com");
        var engineId = await EngineIdAsync(vpsId);
        var ct = TestContext.Current.CancellationToken;

        using var ownerHttp = await SignedInClientAsync(ownerEmail);
        using var otherHttp = await SignedInClientAsync(otherEmail);
        await using var ownerHub = await ConnectAsync(ownerHttp.Cookies);
        await using var otherHub = await ConnectAsync(otherHttp.Cookies);

        // The owner's console works.
        var session = await ownerHub.InvokeAsync<string>("Open", vpsId, 100, 30, ct);
        var seen = new StringBuilder();
        var pump = Task.Run(async () =>
        {
            await foreach (var chunk in ownerHub.StreamAsync<string>("Output", session, ct))
            {
                lock (seen)
                {
                    seen.Append(chunk);
                }
            }
        }, ct);
        await WaitForAsync(() => Text(seen).Contains("login:", StringComparison.Ordinal), "the owner's console shows the login prompt", () => Text(seen));

        // The other customer: the VPS "does not exist" (as a made-up id), and the owner's session id is useless.
        (await Should.ThrowAsync<HubException>(() => otherHub.InvokeAsync<string>("Open", vpsId, 100, 30, ct))).Message.ShouldEndWith($"No server #{vpsId}.");
        (await Should.ThrowAsync<HubException>(() => otherHub.InvokeAsync<string>("Open", 999_999, 100, 30, ct))).Message.ShouldEndWith("No server #999999.");
        (await Should.ThrowAsync<HubException>(() => otherHub.InvokeAsync("Send", session, "echo b-was-here\r", ct))).Message.ShouldContain("not open");
        (await Should.ThrowAsync<HubException>(() => otherHub.InvokeAsync("Resize", session, 20, 10, ct))).Message.ShouldContain("not open");
        var stolen = new List<string>();
        await Should.ThrowAsync<HubException>(async () =>
        {
            await foreach (var chunk in otherHub.StreamAsync<string>("Output", session, ct))
            {
                stolen.Add(chunk);
            }
        });
        stolen.ShouldBeEmpty();

        // Not even the owner's own second connection (another tab) may use it.
        await using (var ownerSecondTab = await ConnectAsync(ownerHttp.Cookies))
        {
            (await Should.ThrowAsync<HubException>(() => ownerSecondTab.InvokeAsync("Send", session, "echo b-was-here\r", ct))).Message.ShouldContain("not open");
        }

        // The owner's console is untouched: a newline brings a fresh prompt, and nothing the others sent arrived.
        var before = Text(seen).Length;
        await ownerHub.InvokeAsync("Resize", session, 120, 40, ct);
        await ownerHub.InvokeAsync("Send", session, "\r", ct);
        await WaitForAsync(() => Text(seen).IndexOf("login:", before, StringComparison.Ordinal) >= 0, "a new prompt after the owner's newline", () => Text(seen));
        Text(seen).ShouldNotContain("b-was-here");

        // An admin may open anyone's console.
        using (var adminHttp = Fixture.App.CreateClient())
        {
            (await adminHttp.SignInAsAdminAsync()).StatusCode.ShouldBe(HttpStatusCode.Redirect);
            await using var adminHub = await ConnectAsync(adminHttp.Cookies);
            var adminSession = await adminHub.InvokeAsync<string>("Open", vpsId, 80, 24, ct);
            adminSession.ShouldNotBe(session);
            await adminHub.InvokeAsync("Close", adminSession, ct);
        }

        // In the browser, the other customer finds no such server.
        await using (var browser = await BrowserSession.StartAsync(Fixture.App.BaseAddress))
        {
            await SignInAsync(browser.Page, otherEmail);
            await browser.Page.GotoAsync($"/servers/{vpsId}/console");
            await Assertions.Expect(browser.Page.GetByTestId("server-not-found")).ToBeVisibleAsync();
            await Assertions.Expect(browser.Page.GetByTestId("console-terminal")).ToHaveCountAsync(0);
        }

        // An anonymous connection is refused before any method runs.
        await using (var anonymous = Hub(new CookieContainer()))
        {
            var refused = await Should.ThrowAsync<HttpRequestException>(() => anonymous.StartAsync(ct));
            refused.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        // The owner's connection goes (a closed tab): its console ends on the host.
        (await ConsoleProcessesAsync(engineId)).ShouldBeGreaterThan(0);
        await ownerHub.DisposeAsync();
        await WaitForNoConsoleProcessesAsync(engineId);
        await Task.WhenAny(pump, Task.Delay(5000, ct));

        // A stopped server's console is refused with its state.
        var (scope, vpses) = Fixture.Resolve<VpsService>();
        await using (scope)
        {
            (await WaitForOperationAsync(await vpses.StopAsync(owner, vpsId, ct))).Status.ShouldBe(OperationStatus.Succeeded);
        }

        await using var again = await ConnectAsync(ownerHttp.Cookies);
        (await Should.ThrowAsync<HubException>(() => again.InvokeAsync<string>("Open", vpsId, 100, 30, ct))).Message.ShouldContain("mine.example.com is not running (stopped)");
    }

    [Theory]
    [InlineData(VirtualizationKind.ParaVirtual)]
    [InlineData(VirtualizationKind.FullVm)]
    public async Task The_console_of_para_virtual_and_full_VM_servers_works_through_the_same_hub(VirtualizationKind approach)
    {
        var (owner, email) = await NewCustomerAsync();
        var hostname = approach == VirtualizationKind.FullVm ? "vm.example.com" : "uml.example.com";
        var vpsId = await RunningVpsAsync(owner, hostname, approach);
        var ct = TestContext.Current.CancellationToken;
        using var http = await SignedInClientAsync(email);
        await using var hub = await ConnectAsync(http.Cookies);

        var session = await hub.InvokeAsync<string>("Open", vpsId, 100, 30, ct);
        var seen = new StringBuilder();
        _ = Task.Run(async () =>
        {
            await foreach (var chunk in hub.StreamAsync<string>("Output", session, ct))
            {
                lock (seen)
                {
                    seen.Append(chunk);
                }
            }
        }, ct);

        await WaitForAsync(() => Text(seen).Contains("login:", StringComparison.Ordinal), "the login prompt", () => Text(seen), 60);
        await hub.InvokeAsync("Send", session, "root\r", ct);
        await WaitForAsync(() => Text(seen).Contains("Password:", StringComparison.Ordinal), "the password prompt", () => Text(seen));
        await hub.InvokeAsync("Send", session, RootPassword + "\r", ct);
        await Task.Delay(500, ct);
        // Only a shell that runs the line turns it into "H=<name>" (the echo of the typed line does not).
        await hub.InvokeAsync("Send", session, "echo H=$(hostname)\r", ct);
        await WaitForAsync(() => Text(seen).Contains("H=" + hostname, StringComparison.Ordinal), "the command's output", () => Text(seen));
        Text(seen).ShouldNotContain("Login incorrect");
        await hub.InvokeAsync("Send", session, "exit\r", ct);
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        // The VPSes go even when the test failed (the panel's node deletes the guests).
        foreach (var id in created)
        {
            await DeleteVpsAsync(id);
        }

        await base.DisposeAsync();
    }

    private async Task<(Actor Actor, string Email)> NewCustomerAsync(string prefix = "customer")
    {
        var email = NewEmail(prefix);
        var user = await Fixture.Services.CreateUserAsync(email, CustomerPassword, Roles.Customer);
        return (new Actor(user.Id, email, IsAdmin: false), email);
    }

    /// <summary>Orders a busybox container with a root password through the service and waits until it runs.</summary>
    private async Task<int> RunningVpsAsync(Actor owner, string hostname, VirtualizationKind approach = VirtualizationKind.Container)
    {
        await Fixture.WaitForNodeAsync();
        var (scope, vpses) = Fixture.Resolve<VpsService>();
        await using (scope)
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
            await using var db = Fixture.Database.CreateContext();
            var plan = await db.Plans.Where(p => p.Approach == approach && p.Active).OrderBy(p => p.MemoryBytes).Select(p => p.Id).FirstAsync();
            var image = await db.Images.Where(i => i.Name == "busybox").Select(i => i.Id).FirstAsync();
            var accepted = await vpses.CreateAsync(owner, new CreateVpsRequest(plan, image, hostname, RootPassword, []));
            created.Add(accepted.VpsId);
            var op = await WaitForOperationAsync(accepted.OperationId);
            op.Status.ShouldBe(OperationStatus.Succeeded, op.Error);
            return accepted.VpsId;
        }
    }

    private async Task<OperationView> WaitForOperationAsync(long operationId, int seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var (scope, vpses) = Fixture.Resolve<VpsService>();
            await using (scope)
            {
                var op = await vpses.GetOperationAsync(Actor.System, operationId);
                if (op.Status is OperationStatus.Succeeded or OperationStatus.Failed or OperationStatus.Refused)
                {
                    return op;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"operation {operationId} ({op.Kind}) still {op.Status} after {seconds} s at step '{op.Step}'\n{Fixture.App.Output}");
                }
            }

            await Task.Delay(100);
        }
    }

    private async Task DeleteVpsAsync(int vpsId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            var (scope, vpses) = Fixture.Resolve<VpsService>();
            await using (scope)
            {
                try
                {
                    var view = await vpses.GetAsync(Actor.System, vpsId);
                    if (view.Status is Panel.Core.Domain.Compute.VpsStatus.Deleted)
                    {
                        return;
                    }

                    await WaitForOperationAsync(await vpses.DeleteAsync(Actor.System, vpsId));
                    return;
                }
                catch (PanelNotFoundException)
                {
                    return;
                }
                catch (PanelRefusedException)
                {
                    // busy (still provisioning, stopping): try again in a moment
                }
            }

            await Task.Delay(250);
        }
    }

    private async Task<string> EngineIdAsync(int vpsId)
    {
        await using var db = Fixture.Database.CreateContext();
        return await db.Vpses.Where(v => v.Id == vpsId).Select(v => v.EngineId).FirstAsync();
    }

    private static async Task SignInAsync(IPage page, string email)
    {
        await page.GotoAsync("/account/login");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", CustomerPassword);
        await page.ClickAsync("[data-testid=login-submit]");
        await Assertions.Expect(page.GetByTestId("customer-home")).ToBeVisibleAsync();
    }

    private async Task<PanelHttpClient> SignedInClientAsync(string email)
    {
        var client = Fixture.App.CreateClient();
        using var response = await client.SignInAsync(email, CustomerPassword);
        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        return client;
    }

    private HubConnection Hub(CookieContainer cookies)
        => new HubConnectionBuilder()
            .WithUrl(new Uri(Fixture.App.BaseAddress, "/hubs/console"), o => o.Cookies = cookies)
            .Build();

    private async Task<HubConnection> ConnectAsync(CookieContainer cookies)
    {
        var hub = Hub(cookies);
        await hub.StartAsync(TestContext.Current.CancellationToken);
        return hub;
    }

    private static string Text(StringBuilder seen)
    {
        lock (seen)
        {
            return seen.ToString();
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, string what, Func<string> shows, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not within {seconds} s; it shows:\n{shows()}");
            }

            await Task.Delay(50);
        }
    }

    private static async Task WaitForTerminalAsync(IPage page, string text)
        => await page.WaitForFunctionAsync("t => window.vpsConsole && window.vpsConsole.text().includes(t)", text);

    private static async Task<string> TerminalTextAsync(IPage page) => await page.EvaluateAsync<string>("() => window.vpsConsole.text()");

    private static async Task<string> SafeTerminalTextAsync(IPage page)
    {
        try
        {
            return await page.EvaluateAsync<string>("() => window.vpsConsole ? window.vpsConsole.text().trimEnd() : '(no terminal)'");
        }
        catch (PlaywrightException e)
        {
            return "(unreadable: " + e.Message + ")";
        }
    }

    /// <summary>How many console programs (<c>lxc-console … -n ENGINE-ID</c>) run on the host for a guest.</summary>
    private static Task<int> ConsoleProcessesAsync(string engineId)
    {
        var count = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
            {
                continue;
            }

            try
            {
                var argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (argv.Length > 0 && Path.GetFileName(argv[0]) == "lxc-console" && argv.Contains(engineId))
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // the process ended meanwhile
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return Task.FromResult(count);
    }

    private static async Task WaitForNoConsoleProcessesAsync(string engineId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (await ConsoleProcessesAsync(engineId) > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the console of {engineId} still runs on the host 15 s after its connection closed");
            }

            await Task.Delay(100);
        }
    }

    [GeneratedRegex("/servers/[0-9]+/console$")]
    private static partial Regex ConsoleUrl();

    [GeneratedRegex("/servers/[0-9]+$")]
    private static partial Regex ServerUrl();
}
