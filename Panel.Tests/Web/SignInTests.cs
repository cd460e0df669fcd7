using System.Net;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web;

/// <summary>Sign-up, sign-in, lockout and sign-out through the real pages of a running panel.</summary>
public sealed class SignInTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task Admin_SignsIn_AndLandsOnTheAdminDashboard()
    {
        using var client = Fixture.App.CreateClient();

        var response = await client.SignInAsAdminAsync();

        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        var page = await client.GetPageAsync("/");
        page.Url.AbsolutePath.ShouldBe("/admin");
        page.Document.QuerySelector("[data-testid=admin-dashboard]").ShouldNotBeNull(page.Text);
        await using var db = Fixture.Database.CreateContext();
        (await db.Users.SingleAsync(u => u.Email == PanelProcess.AdminEmail)).LastSignInAt.ShouldNotBeNull();
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.SignIn)).ShouldBe(1);
    }

    [Fact]
    public async Task WrongPassword_ShowsAClearMessage_AndDoesNotSignIn()
    {
        using var client = Fixture.App.CreateClient();

        var response = await client.SignInAsync(PanelProcess.AdminEmail, "Wrong-Passw0rd");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var html = await response.Content.ReadAsStringAsync();
        html.ShouldContain("wrong email or password");
        (await client.GetAsync("/admin")).StatusCode.ShouldBe(HttpStatusCode.Redirect);
    }

    [Fact]
    public async Task FiveWrongPasswords_LockTheAccount_SoEvenTheRightPasswordIsRefused()
    {
        var email = NewEmail();
        await Fixture.Services.CreateUserAsync(email, "Right-Passw0rd", Roles.Customer);
        using var client = Fixture.App.CreateClient();

        for (var i = 1; i <= 4; i++)
        {
            var wrong = await client.SignInAsync(email, $"Wrong-Passw0rd{i}");
            wrong.StatusCode.ShouldBe(HttpStatusCode.OK, $"attempt {i}");
        }

        var fifth = await client.SignInAsync(email, "Wrong-Passw0rd5");
        fifth.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        fifth.Headers.Location!.OriginalString.ShouldEndWith("/account/lockout");

        var right = await client.SignInAsync(email, "Right-Passw0rd");
        right.Headers.Location?.OriginalString.ShouldEndWith("/account/lockout");
        (await client.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.Redirect, "a locked account must not be signed in");

        await using var db = Fixture.Database.CreateContext();
        (await db.Users.SingleAsync(u => u.Email == email)).LockoutEnd.ShouldNotBeNull().ShouldBeGreaterThan(DateTimeOffset.UtcNow.AddMinutes(10));
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.SignInFailed && e.Actor == email)).ShouldBe(4);
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.LockedOut && e.Actor == email)).ShouldBeGreaterThanOrEqualTo(1);
    }

    [Fact]
    public async Task Customer_SignsUpThroughTheForm_AndIsSignedInOnTheCustomerHome()
    {
        var email = NewEmail();
        using var client = Fixture.App.CreateClient();

        var response = await client.SubmitAsync("/account/signup", "signup", new Dictionary<string, string>
        {
            ["Input.Email"] = email,
            ["Input.Password"] = "Good-Passw0rd",
            ["Input.ConfirmPassword"] = "Good-Passw0rd",
        });

        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        var home = await client.GetPageAsync("/");
        home.Url.AbsolutePath.ShouldBe("/");
        home.Document.QuerySelector("[data-testid=customer-home]").ShouldNotBeNull(home.Text);
        home.Document.QuerySelector("[data-testid=servers-empty]").ShouldNotBeNull("an empty state says what to do next");
    }

    [Fact]
    public async Task SignUpForm_ShowsEachProblemOnItsField_AndCreatesNothing()
    {
        using var client = Fixture.App.CreateClient();

        var response = await client.SubmitAsync("/account/signup", "signup", new Dictionary<string, string>
        {
            ["Input.Email"] = "not-an-email",
            ["Input.Password"] = "weak",
            ["Input.ConfirmPassword"] = "weak",
        });

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var html = await response.Content.ReadAsStringAsync();
        html.ShouldContain("Enter a valid email address");
        await using var db = Fixture.Database.CreateContext();
        (await db.Users.CountAsync()).ShouldBe(1, "only the admin");
    }

    [Fact]
    public async Task SignUpForm_RefusesAnExistingEmail_OnTheEmailField()
    {
        var email = NewEmail();
        await Fixture.Services.CreateUserAsync(email, "Right-Passw0rd", Roles.Customer);
        using var client = Fixture.App.CreateClient();

        var response = await client.SubmitAsync("/account/signup", "signup", new Dictionary<string, string>
        {
            ["Input.Email"] = email,
            ["Input.Password"] = "Good-Passw0rd",
            ["Input.ConfirmPassword"] = "Good-Passw0rd",
        });

        var page = await response.Content.ReadAsStringAsync();
        page.ShouldContain("An account with this email already exists");
        await using var db = Fixture.Database.CreateContext();
        (await db.Users.CountAsync(u => u.Email == email)).ShouldBe(1);
    }

    [Fact]
    public async Task SignUp_WhenClosed_SaysSo_AndTheLoginPageHidesTheLink()
    {
        await using (var db = Fixture.Database.CreateContext())
        {
            await db.Database.ExecuteSqlRawAsync("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('signup.enabled', 'false', now(), 'test')");
        }

        using var client = Fixture.App.CreateClient();
        var signup = await client.GetPageAsync("/account/signup");
        signup.Document.QuerySelector("[data-testid=signup-closed]").ShouldNotBeNull();
        signup.Document.QuerySelector("form[data-testid=signup-form]").ShouldBeNull();
        var login = await client.GetPageAsync("/account/login");
        login.Document.QuerySelector("[data-testid=signup-link]").ShouldBeNull();
    }

    [Fact]
    public async Task SignOut_EndsTheSession()
    {
        using var client = Fixture.App.CreateClient();
        await client.SignInAsAdminAsync();
        (await client.GetAsync("/admin")).StatusCode.ShouldBe(HttpStatusCode.OK);

        var admin = await client.GetPageAsync("/admin");
        var token = admin.Document.QuerySelector("form[action='/account/logout'] input[name=__RequestVerificationToken]")?.GetAttribute("value");
        token.ShouldNotBeNull("the app bar has a sign-out form");
        using var content = new FormUrlEncodedContent([new("__RequestVerificationToken", token)]);
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = client.Cookies, AllowAutoRedirect = false }) { BaseAddress = Fixture.App.BaseAddress };
        var response = await http.PostAsync(new Uri("/account/logout", UriKind.Relative), content);

        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        (await client.GetAsync("/admin")).StatusCode.ShouldBe(HttpStatusCode.Redirect);
    }
}
