using System.Net;
using Panel.Core.Domain.Accounts;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web;

/// <summary>Who may open what: anonymous visitors, customers and admins against pages and the jobs dashboard.</summary>
public sealed class AuthorizationTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Theory]
    [InlineData("/")]
    [InlineData("/admin")]
    [InlineData("/admin/settings")]
    [InlineData("/admin/dunning")]
    [InlineData("/admin/jobs")]
    [InlineData("/account/manage")]
    [InlineData("/account/manage/two-factor")]
    [InlineData("/billing")]
    [InlineData("/billing/invoices/1/pdf")]
    [InlineData("/admin/billing")]
    [InlineData("/ssh-keys")]
    [InlineData("/activity")]
    [InlineData("/servers/1/backups/1/download")]
    public async Task Anonymous_IsSentToSignIn_WithTheReturnUrl(string path)
    {
        using var client = Fixture.App.CreateClient();

        var response = await client.GetAsync(path);

        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        var location = response.Headers.Location!.OriginalString;
        location.ShouldContain("/account/login");
        Uri.UnescapeDataString(location).ShouldContain(path == "/" ? "ReturnUrl=/" : path);
    }

    [Theory]
    [InlineData("/account/login")]
    [InlineData("/account/signup")]
    [InlineData("/healthz")]
    public async Task Anonymous_CanOpenThePublicPages(string path)
    {
        using var client = Fixture.App.CreateClient();
        (await client.GetAsync(path)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("/admin")]
    [InlineData("/admin/settings")]
    [InlineData("/admin/dunning")]
    [InlineData("/admin/jobs")]
    [InlineData("/admin/jobs/jobs/succeeded")]
    [InlineData("/admin/billing")]
    [InlineData("/admin/plans")]
    [InlineData("/admin/images")]
    [InlineData("/admin/ip-pools")]
    [InlineData("/admin/customers")]
    [InlineData("/admin/operations")]
    public async Task Customer_IsRefusedAdminPages_With403(string path)
    {
        using var client = await SignedInCustomerAsync();

        var response = await client.GetAsync(path);

        response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        var html = await response.Content.ReadAsStringAsync();
        html.ShouldContain("Access denied");
        html.ShouldNotContain("Hangfire", Case.Insensitive);
    }

    [Fact]
    public async Task Admin_OpensTheJobsDashboard()
    {
        using var client = Fixture.App.CreateClient();
        await client.SignInAsAdminAsync();

        var response = await client.GetAsync("/admin/jobs");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldContain("VpsPanel jobs");
    }

    [Fact]
    public async Task UnknownPage_Answers404_WithAReadablePage()
    {
        using var client = Fixture.App.CreateClient();

        var response = await client.GetAsync("/no/such/page");

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await response.Content.ReadAsStringAsync()).ShouldContain("Page not found");
    }

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    public async Task SignIn_RefusesToRedirectOffSite(string returnUrl)
    {
        using var client = Fixture.App.CreateClient();

        var response = await client.SignInAsync(PanelProcess.AdminEmail, PanelProcess.AdminPassword, $"/account/login?returnUrl={Uri.EscapeDataString(returnUrl)}");

        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        var location = response.Headers.Location!;
        (location.IsAbsoluteUri ? location.Host : "127.0.0.1").ShouldBe("127.0.0.1");
    }

    private async Task<PanelHttpClient> SignedInCustomerAsync()
    {
        var email = NewEmail();
        await Fixture.Services.CreateUserAsync(email, "Right-Passw0rd", Roles.Customer);
        var client = Fixture.App.CreateClient();
        var response = await client.SignInAsync(email, "Right-Passw0rd");
        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        return client;
    }
}
