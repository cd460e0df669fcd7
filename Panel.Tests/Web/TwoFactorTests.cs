using System.Net;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web;

/// <summary>TOTP two-factor authentication end to end: set up with an app's code, then sign in with codes and recovery codes.</summary>
public sealed class TwoFactorTests(PanelFixture fixture) : PanelTest(fixture)
{
    private const string Password = "Right-Passw0rd";

    [Fact]
    public async Task Customer_TurnsOnTwoFactor_ThenNeedsACodeToSignIn()
    {
        var email = NewEmail();
        await Fixture.Services.CreateUserAsync(email, Password, Roles.Customer);
        var (key, recoveryCodes) = await EnableTwoFactorAsync(email);
        recoveryCodes.Count.ShouldBe(10);

        using var client = Fixture.App.CreateClient();
        var step1 = await client.SignInAsync(email, Password);
        step1.Headers.Location!.OriginalString.ShouldContain("/account/login-2fa");
        (await client.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.Redirect, "the password alone does not sign in");

        var wrong = await client.SubmitAsync(step1.Headers.Location.OriginalString, "login-2fa", new Dictionary<string, string> { ["Input.TwoFactorCode"] = "000000" == Totp.Code(key) ? "111111" : "000000" });
        (await wrong.Content.ReadAsStringAsync()).ShouldContain("that code is not right");

        var step2 = await client.SubmitAsync(step1.Headers.Location.OriginalString, "login-2fa", new Dictionary<string, string> { ["Input.TwoFactorCode"] = Totp.Code(key) });
        step2.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        (await client.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task RecoveryCode_SignsInOnce_ThenIsSpent()
    {
        var email = NewEmail();
        await Fixture.Services.CreateUserAsync(email, Password, Roles.Customer);
        var (_, codes) = await EnableTwoFactorAsync(email);

        using (var first = Fixture.App.CreateClient())
        {
            await first.SignInAsync(email, Password);
            var ok = await first.SubmitAsync("/account/login-recovery", "login-recovery", new Dictionary<string, string> { ["Input.RecoveryCode"] = codes[0] });
            ok.StatusCode.ShouldBe(HttpStatusCode.Redirect);
            (await first.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        using var second = Fixture.App.CreateClient();
        await second.SignInAsync(email, Password);
        var reused = await second.SubmitAsync("/account/login-recovery", "login-recovery", new Dictionary<string, string> { ["Input.RecoveryCode"] = codes[0] });
        (await reused.Content.ReadAsStringAsync()).ShouldContain("not valid");
        (await second.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.Redirect);
    }

    /// <summary>Signs in, reads the key off the set-up page as a person would, confirms with a computed code.</summary>
    private async Task<(string Key, IReadOnlyList<string> RecoveryCodes)> EnableTwoFactorAsync(string email)
    {
        using var client = Fixture.App.CreateClient();
        (await client.SignInAsync(email, Password)).StatusCode.ShouldBe(HttpStatusCode.Redirect);

        var setup = await client.GetPageAsync("/account/manage/enable-authenticator");
        var key = setup.TextOf("[data-testid=authenticator-key]").ShouldNotBeNull(setup.Text);

        var verified = await client.SubmitAsync(setup, "verify-authenticator", new Dictionary<string, string> { ["Input.Code"] = Totp.Code(key) });
        verified.StatusCode.ShouldBe(HttpStatusCode.OK);
        var page = await verified.Content.ReadAsStringAsync();
        var doc = new AngleSharp.Html.Parser.HtmlParser().ParseDocument(page);
        var codes = doc.QuerySelectorAll("[data-testid=recovery-codes] code").Select(c => c.TextContent.Trim()).ToList();

        await using var db = Fixture.Database.CreateContext();
        (await db.Users.SingleAsync(u => u.Email == email)).TwoFactorEnabled.ShouldBeTrue();
        return (key, codes);
    }
}
