using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core;

public sealed class AccountServiceTests(PanelFixture fixture) : PanelTest(fixture)
{
    private static readonly Actor Visitor = Actor.Anonymous("127.0.0.1");

    [Fact]
    public async Task SignUpCustomer_CreatesCustomerAccount_AndAuditsIt()
    {
        var email = NewEmail();
        var (scope, accounts) = Fixture.Resolve<AccountService>();
        await using (scope)
        {
            var result = await accounts.SignUpCustomerAsync(email, "Good-Passw0rd", Visitor);

            result.Succeeded.ShouldBeTrue(string.Join("; ", result.Errors.SelectMany(e => e.Value)));
            var users = scope.ServiceProvider.GetRequiredService<UserManager<PanelUser>>();
            var user = (await users.FindByEmailAsync(email)).ShouldNotBeNull();
            (await users.GetRolesAsync(user)).ShouldBe([Roles.Customer]);
            user.CreatedAt.Kind.ShouldBe(DateTimeKind.Utc);
        }

        await using var db = Fixture.Database.CreateContext();
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.SignUp && e.Actor == email)).ShouldBe(1);
    }

    [Theory]
    [InlineData("not-an-email")]
    [InlineData("two@@example.com")]
    [InlineData("spaces in@example.com")]
    [InlineData("nodot@localhost")]
    [InlineData("")]
    public async Task SignUpCustomer_RefusesInvalidEmail_OnTheEmailField_AndCreatesNothing(string email)
    {
        var result = await SignUpAsync(email, "Good-Passw0rd");

        result.Succeeded.ShouldBeFalse();
        result.Errors.Keys.ShouldContain(AccountService.EmailField);
        await ShouldHaveNoCustomersAsync();
    }

    [Theory]
    [InlineData("short1A", "at least 10")]
    [InlineData("alllowercase1", "uppercase")]
    [InlineData("NoDigitsHereAtAll", "digit")]
    public async Task SignUpCustomer_RefusesWeakPassword_OnThePasswordField_AndCreatesNothing(string password, string expected)
    {
        var result = await SignUpAsync(NewEmail(), password);

        result.Succeeded.ShouldBeFalse();
        string.Join(" ", result.Errors[AccountService.PasswordField]).ShouldContain(expected, Case.Insensitive);
        await ShouldHaveNoCustomersAsync();
    }

    [Fact]
    public async Task SignUpCustomer_RefusesExistingEmail_AndKeepsTheFirstAccountOnly()
    {
        var email = NewEmail();
        (await SignUpAsync(email, "Good-Passw0rd")).Succeeded.ShouldBeTrue();

        var second = await SignUpAsync(email.ToUpperInvariant(), "Other-Passw0rd");

        second.Succeeded.ShouldBeFalse();
        second.Errors[AccountService.EmailField].ShouldContain(m => m.Contains("already exists", StringComparison.Ordinal));
        await using var db = Fixture.Database.CreateContext();
        (await db.Users.CountAsync(u => u.NormalizedEmail == email.ToUpperInvariant())).ShouldBe(1);
    }

    [Fact]
    public async Task SignUpCustomer_IsRefused_WhenAnAdminClosedSignUp()
    {
        var (scope, settings) = Fixture.Resolve<SettingsService>();
        await using (scope)
        {
            await settings.SetSignUpEnabledAsync(new Actor(Guid.NewGuid(), "admin@test.local", IsAdmin: true), enabled: false);
        }

        var result = await SignUpAsync(NewEmail(), "Good-Passw0rd");

        result.Succeeded.ShouldBeFalse();
        result.Errors[AccountService.FormField].ShouldContain(m => m.Contains("closed", StringComparison.Ordinal));
        await ShouldHaveNoCustomersAsync();
    }

    [Fact]
    public async Task SignUpCustomer_UnderConcurrentRequestsForOneEmail_CreatesOneAccount()
    {
        var email = NewEmail();
        var attempts = Enumerable.Range(0, 8).Select(_ => SignUpAsync(email, "Good-Passw0rd"));

        var results = await Task.WhenAll(attempts);

        results.Count(r => r.Succeeded).ShouldBe(1);
        await using var db = Fixture.Database.CreateContext();
        (await db.Users.CountAsync(u => u.NormalizedEmail == email.ToUpperInvariant())).ShouldBe(1);
    }

    private async Task<SignUpResult> SignUpAsync(string email, string password)
    {
        var (scope, accounts) = Fixture.Resolve<AccountService>();
        await using (scope)
        {
            return await accounts.SignUpCustomerAsync(email, password, Visitor);
        }
    }

    private async Task ShouldHaveNoCustomersAsync()
    {
        await using var db = Fixture.Database.CreateContext();
        (await db.Users.CountAsync(u => u.Email != PanelProcess.AdminEmail)).ShouldBe(0);
    }
}
