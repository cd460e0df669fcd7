using System.Net;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Panel.Core.Domain.Accounts;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web;

/// <summary>The panel process from start to stop: missing database, fresh database, restarts, and readiness while the database comes and goes.</summary>
public sealed class StartupTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task UnreachableDatabase_PrintsOneClearLine_AndExitsNonZero()
    {
        var deadPort = PanelProcess.FreePort();
        var cs = $"Host=127.0.0.1;Port={deadPort};Database=nowhere;Username=panel;Password=x;Timeout=3";
        await using var app = await PanelProcess.StartAsync(cs, waitUntilServing: false);

        var exit = await app.WaitForExitAsync(TimeSpan.FromSeconds(60));

        exit.ShouldNotBe(0);
        var output = app.Output;
        var errorLines = output.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        errorLines.Count.ShouldBe(1, output);
        errorLines[0].ShouldContain("host 127.0.0.1");
        errorLines[0].ShouldContain($"port {deadPort}");
        errorLines[0].ShouldContain("database nowhere");
        output.ShouldNotContain("   at ", customMessage: "no stack trace for the user");
        output.ShouldNotContain("Password=x");
    }

    [Fact]
    public async Task PortInUse_PrintsOneClearLine_AndExitsNonZero()
    {
        using var squatter = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await using var app = await PanelProcess.StartAsync(Fixture.Database.ConnectionString, waitUntilServing: false, port: port);

        var exit = await app.WaitForExitAsync(TimeSpan.FromSeconds(60));

        exit.ShouldBe(5, app.Output);
        app.Output.ShouldContain("error: cannot listen");
        app.Output.ShouldNotContain("   at ", customMessage: "no stack trace for the user; the output:\n" + app.Output);
    }

    [Fact]
    public async Task FreshDatabase_IsMigratedAndSeeded_AndARestartReusesItAndKeepsSessions()
    {
        var cs = await TestDatabase.CreateEmptyAsync();
        try
        {
            var port = PanelProcess.FreePort();
            PanelHttpClient client;
            await using (var first = await PanelProcess.StartAsync(cs, port: port))
            {
                first.Output.ShouldContain("Created the first admin account: " + PanelProcess.AdminEmail);
                (await new HttpClient().GetAsync(new Uri(first.BaseAddress, "/readyz"))).StatusCode.ShouldBe(HttpStatusCode.OK);
                client = first.CreateClient();
                (await client.SignInAsAdminAsync()).StatusCode.ShouldBe(HttpStatusCode.Redirect);
                (await client.GetAsync("/admin")).StatusCode.ShouldBe(HttpStatusCode.OK);
                await first.StopAsync();
            }

            await using (var second = await PanelProcess.StartAsync(cs, port: port))
            {
                second.Output.ShouldNotContain("Created the first admin account");
                // Same cookie, new process: the Data Protection keys came from PostgreSQL.
                (await client.GetAsync("/admin")).StatusCode.ShouldBe(HttpStatusCode.OK);
                await second.StopAsync();
            }

            client.Dispose();
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.name = 'Admin'", conn);
            ((long)(await cmd.ExecuteScalarAsync())!).ShouldBe(1);
        }
        finally
        {
            await TestDatabase.DropAsync(cs);
        }
    }

    [Fact]
    public async Task Readyz_Answers503WhileTheDatabaseIsDown_And200WhenItIsBack()
    {
        var target = new NpgsqlConnectionStringBuilder(Fixture.Database.ConnectionString);
        await using var proxy = new TcpProxy(target.Host!, target.Port);
        var viaProxy = new NpgsqlConnectionStringBuilder(Fixture.Database.ConnectionString) { Port = proxy.Port, Timeout = 3 }.ConnectionString;
        await using var app = await PanelProcess.StartAsync(viaProxy);
        using var http = new HttpClient { BaseAddress = app.BaseAddress };

        (await http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.OK);

        proxy.Cut();
        var down = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
        down.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await down.Content.ReadAsStringAsync()).ShouldContain("database");
        (await http.GetAsync(new Uri("/healthz", UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.OK, "the process itself is fine");

        proxy.Resume();
        HttpStatusCode status = default;
        for (var i = 0; i < 50 && status != HttpStatusCode.OK; i++)
        {
            status = (await http.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode;
            if (status != HttpStatusCode.OK)
            {
                await Task.Delay(200);
            }
        }

        status.ShouldBe(HttpStatusCode.OK, "ready again without a restart");
        app.HasExited.ShouldBeFalse();
    }

    [Fact]
    public async Task AdminDashboard_ShowsRealFigures()
    {
        await Fixture.Services.CreateUserAsync(NewEmail(), "Right-Passw0rd", Roles.Customer);
        await Fixture.Services.CreateUserAsync(NewEmail(), "Right-Passw0rd", Roles.Customer);
        using var client = Fixture.App.CreateClient();
        await client.SignInAsAdminAsync();

        var page = await client.GetPageAsync("/admin");

        page.TextOf("[data-testid=stat-customers] h4, [data-testid=stat-customers] .mud-typography-h4").ShouldBe("2");
        page.TextOf("[data-testid=stat-admins] .mud-typography-h4").ShouldBe("1");
        page.Document.QuerySelector("[data-testid=host-facts]")!.TextContent.ShouldContain(Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // CI runs as root with LXC installed: the container driver must report ready, with its version.
        var lxc = page.Document.QuerySelector("[data-testid=driver-lxc]").ShouldNotBeNull(page.Text).TextContent;
        lxc.ShouldContain("ready", customMessage: lxc);
        lxc.ShouldContain("cgroup:");
        await using var db = Fixture.Database.CreateContext();
        (await db.Users.CountAsync()).ShouldBe(3);
    }
}
