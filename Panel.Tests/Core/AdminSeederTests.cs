using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core;

public sealed class AdminSeederTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task Seed_DoesNothing_WhenAnAdminExists()
    {
        var (scope, seeder) = Fixture.Resolve<AdminSeeder>();
        await using (scope)
        {
            var result = await seeder.SeedAsync("second@example.com", "Second-Passw0rd");

            result.Created.ShouldBeFalse();
            result.Email.ShouldBe(PanelProcess.AdminEmail);
        }

        await using var db = Fixture.Database.CreateContext();
        (await db.Users.CountAsync()).ShouldBe(1);
    }

    [Fact]
    public async Task Seed_GeneratesAPolicyCompliantPassword_WhenNoneIsGiven()
    {
        await RemoveAdminAsync();
        var (scope, seeder) = Fixture.Resolve<AdminSeeder>();
        await using (scope)
        {
            var result = await seeder.SeedAsync(null, null);

            result.Created.ShouldBeTrue();
            result.Email.ShouldBe(AdminSeeder.DefaultEmail);
            var password = result.GeneratedPassword.ShouldNotBeNull();
            password.Length.ShouldBe(20);
            var users = scope.ServiceProvider.GetRequiredService<UserManager<PanelUser>>();
            var admin = (await users.FindByEmailAsync(AdminSeeder.DefaultEmail)).ShouldNotBeNull();
            (await users.CheckPasswordAsync(admin, password)).ShouldBeTrue();
            (await users.IsInRoleAsync(admin, Roles.Admin)).ShouldBeTrue();
        }
    }

    [Fact]
    public async Task Seed_RefusesAWeakPassword_WithAMessage_AndCreatesNoAdmin()
    {
        await RemoveAdminAsync();
        var (scope, seeder) = Fixture.Resolve<AdminSeeder>();
        await using (scope)
        {
            var ex = await Should.ThrowAsync<InvalidOperationException>(() => seeder.SeedAsync("admin@example.com", "weak"));
            ex.Message.ShouldContain("cannot create admin account admin@example.com");
        }

        await using var db = Fixture.Database.CreateContext();
        (await db.Users.CountAsync()).ShouldBe(0);
    }

    [Fact]
    public void GeneratePassword_IsRandomAndMixesCharacterClasses()
    {
        var passwords = Enumerable.Range(0, 50).Select(_ => AdminSeeder.GeneratePassword()).ToList();
        passwords.Distinct().Count().ShouldBe(50);
        passwords.ShouldAllBe(p => p.Any(char.IsUpper) && p.Any(char.IsLower) && p.Any(char.IsDigit));
    }

    private async Task RemoveAdminAsync()
    {
        await using var db = Fixture.Database.CreateContext();
        await db.Users.ExecuteDeleteAsync();
    }
}
