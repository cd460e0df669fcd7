using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Panel.Core;
using Panel.Core.Domain.Accounts;

namespace Panel.Tests.Infrastructure;

/// <summary>Panel.Core's real services on a test database, for tests that call use cases directly.</summary>
public static class CoreServices
{
    /// <summary>A service provider with the panel's services (no Hangfire server) on <paramref name="connectionString"/>.</summary>
    public static ServiceProvider Build(string connectionString, Action<IServiceCollection>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddPanelCore(connectionString, new PanelOptions { Jobs = { RunServer = false } })
            .AddDefaultTokenProviders();
        configure?.Invoke(services);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    /// <summary>Creates a user with a role directly (test setup), returning it.</summary>
    public static async Task<PanelUser> CreateUserAsync(this IServiceProvider services, string email, string password, string role)
    {
        await using var scope = services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<PanelUser>>();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole<Guid>>>();
        if (!await roles.RoleExistsAsync(role))
        {
            (await roles.CreateAsync(new IdentityRole<Guid>(role))).Succeeded.ShouldBeTrue();
        }

        var user = new PanelUser { UserName = email, Email = email, DisplayName = email.Split('@')[0], CreatedAt = DateTime.UtcNow };
        var created = await users.CreateAsync(user, password);
        created.Succeeded.ShouldBeTrue(string.Join(" ", created.Errors.Select(e => e.Description)));
        (await users.AddToRoleAsync(user, role)).Succeeded.ShouldBeTrue();
        return user;
    }
}
