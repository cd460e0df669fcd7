using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core;

public sealed class SettingsServiceTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task SignUp_IsOpenByDefault()
    {
        var (scope, settings) = Fixture.Resolve<SettingsService>();
        await using (scope)
        {
            (await settings.IsSignUpEnabledAsync()).ShouldBeTrue();
        }
    }

    [Fact]
    public async Task SetSignUpEnabled_ByAnAdmin_ChangesItAndIsAudited()
    {
        var admin = new Actor(Guid.NewGuid(), "boss@example.com", IsAdmin: true, "10.9.8.7");
        var (scope, settings) = Fixture.Resolve<SettingsService>();
        await using (scope)
        {
            await settings.SetSignUpEnabledAsync(admin, false);
            (await settings.IsSignUpEnabledAsync()).ShouldBeFalse();
            await settings.SetSignUpEnabledAsync(admin, true);
            (await settings.IsSignUpEnabledAsync()).ShouldBeTrue();
        }

        await using var db = Fixture.Database.CreateContext();
        var events = await db.AuditEvents.Where(e => e.Action == AuditActions.SettingChanged).OrderBy(e => e.Id).ToListAsync();
        events.Select(e => e.Details).ShouldBe(["signup.enabled = false", "signup.enabled = true"]);
        events.ShouldAllBe(e => e.Actor == "boss@example.com" && e.IpAddress == "10.9.8.7");
    }

    [Fact]
    public async Task SetSignUpEnabled_ByACustomer_IsRefusedAndChangesNothing()
    {
        var customer = new Actor(Guid.NewGuid(), "c@example.com", IsAdmin: false);
        var (scope, settings) = Fixture.Resolve<SettingsService>();
        await using (scope)
        {
            await Should.ThrowAsync<UnauthorizedAccessException>(() => settings.SetSignUpEnabledAsync(customer, false));
            (await settings.IsSignUpEnabledAsync()).ShouldBeTrue();
        }
    }
}
