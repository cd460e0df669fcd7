using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Panel.Core.Domain.Accounts;
using Panel.Core.Jobs;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Concurrency;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Processes;

namespace Panel.Core;

/// <summary>Registers everything Panel.Core offers: persistence, Identity's stores, jobs and the use-case services.</summary>
public static class PanelCoreServiceCollectionExtensions
{
    /// <summary>Adds the database, Identity rules, Hangfire and services.</summary>
    public static IdentityBuilder AddPanelCore(this IServiceCollection services, string connectionString, PanelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(TimeProvider.System);
        services.AddDbContextFactory<PanelDbContext>(o => PanelDatabase.Configure(o, connectionString));

        var identity = services.AddIdentityCore<PanelUser>(o =>
            {
                o.User.RequireUniqueEmail = true;
                o.SignIn.RequireConfirmedAccount = false;
                o.Password.RequiredLength = 10;
                o.Password.RequireDigit = true;
                o.Password.RequireLowercase = true;
                o.Password.RequireUppercase = true;
                o.Password.RequireNonAlphanumeric = false;
                o.Password.RequiredUniqueChars = 4;
                o.Lockout.AllowedForNewUsers = true;
                o.Lockout.MaxFailedAccessAttempts = 5;
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(15);
            })
            .AddRoles<IdentityRole<Guid>>()
            .AddEntityFrameworkStores<PanelDbContext>();
        // The web host adds the sign-in manager and token providers (they live in ASP.NET Core).

        services.AddPanelJobs(connectionString, options.Jobs);

        // The engine of this node: one driver per approach (UML and QEMU join with the engine's second part).
        services.AddSingleton(options.Engine);
        services.AddSingleton<InstanceLocks>();
        services.AddSingleton<IInstanceDriver>(sp => new LxcDriver(options.Engine, ProcessRunner.Instance, sp.GetRequiredService<InstanceLocks>()));
        services.AddSingleton(sp => new DriverRegistry(sp.GetServices<IInstanceDriver>()));

        services.AddScoped<AuditLog>();
        services.AddScoped<SettingsService>();
        services.AddScoped<AccountService>();
        services.AddScoped<AdminSeeder>();
        services.AddScoped<DashboardService>();
        services.AddScoped<NodeService>();
        if (options.Jobs.RunServer)
        {
            // This process serves a node's queue: it is a node, so it registers and reports.
            services.AddSingleton<NodeAgent>();
            services.AddHostedService(sp => sp.GetRequiredService<NodeAgent>());
        }
        return identity;
    }
}
