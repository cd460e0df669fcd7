using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Panel.Core.Domain.Accounts;
using Panel.Core.Jobs;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Concurrency;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Drivers.Uml;
using Panel.Hypervisor.Drivers.Qemu;
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
        services.TryAddSingleton(options);
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
        services.AddSingleton<IInstanceDriver>(sp => new UmlDriver(options.Engine, ProcessRunner.Instance, sp.GetRequiredService<InstanceLocks>()));
        services.AddSingleton<IInstanceDriver>(sp => new QemuDriver(options.Engine, ProcessRunner.Instance, sp.GetRequiredService<InstanceLocks>()));
        services.AddSingleton(sp => new DriverRegistry(sp.GetServices<IInstanceDriver>()));
        services.AddSingleton(sp => new Panel.Hypervisor.Backups.InstanceBackups(options.Engine, sp.GetRequiredService<DriverRegistry>()));

        services.AddSingleton<AuditLog>();
        services.AddScoped<SettingsService>();
        services.AddScoped<AccountService>();
        services.AddScoped<AdminSeeder>();
        services.AddScoped<DashboardService>();
        services.AddScoped<NodeService>();
        services.AddSingleton<IpPoolService>();
        services.AddScoped<CatalogService>();
        services.AddScoped<CustomerService>();
        services.AddScoped<VpsService>();
        services.AddScoped<ConsoleService>();
        services.AddScoped<SshKeyService>();
        // Consoles of this node's guests; a relay to other nodes can replace it.
        services.AddSingleton<Consoles.IConsoleBroker>(sp => new Consoles.LocalConsoleBroker(
            sp.GetRequiredService<DriverRegistry>(), options, sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<Consoles.LocalConsoleBroker>>()));
        services.AddScoped<OperationDispatcher>();
        services.AddScoped<UsageMeter>();
        services.AddScoped<BillingService>();
        // Card payments: a provider's adapter registers the one IPaymentGateway; none by default.
        services.AddScoped<PaymentService>();
        services.AddScoped<Jobs.Billing.PaymentRetryJob>();
        services.AddScoped<ApiTokenService>();
        services.AddScoped<Jobs.Api.ApiIdempotencyPurgeJob>();
        services.AddScoped<Jobs.Hosting.HostingContentJob>();
        services.AddScoped<InvoicingService>();
        services.AddScoped<TaxService>();
        services.AddScoped<CouponService>();
        services.AddScoped<Jobs.Billing.MeterUsageJob>();
        services.AddScoped<Jobs.Billing.InvoiceJob>();
        services.AddSingleton<MailOutbox>();
        services.AddScoped<DunningService>();
        services.AddScoped<Jobs.Billing.DunningJob>();
        services.AddScoped<ThrottleService>();
        services.AddScoped<Jobs.Billing.AllowanceThrottleJob>();
        services.AddScoped<Jobs.Mail.MailOutboxJob>();

        // Web hosting: sites, their content and certificates; the edge itself lives in Panel.Web.
        services.AddSingleton<Hosting.EdgeSignal>();
        services.AddSingleton<Hosting.EdgeCa>();
        services.AddSingleton<Hosting.EdgeDirectory>();
        services.AddSingleton<Hosting.HostingRuntime>();
        services.AddSingleton<Hosting.HostingSync>();
        services.AddSingleton<Hosting.SiteAccessLog>();
        services.AddSingleton<Hosting.SiteFiles>();
        services.AddSingleton<Hosting.EdgeStatus>();
        services.AddScoped<HostingService>();
        services.AddScoped<Jobs.Hosting.CertificateRenewalJob>();
        services.AddSingleton<Hosting.Acme.AcmeChallengeStore>();
        services.AddSingleton<Hosting.Acme.AcmeIssuer>();
        services.AddScoped<Jobs.Hosting.AcmeCertificateJob>();

        // VPS jobs (one class per operation kind) and what they share.
        services.AddScoped<Jobs.Vps.OperationRunner>();
        services.AddScoped<Jobs.Vps.ProvisionJob>();
        services.AddScoped<Jobs.Vps.StartJob>();
        services.AddScoped<Jobs.Vps.StopJob>();
        services.AddScoped<Jobs.Vps.ForceStopJob>();
        services.AddScoped<Jobs.Vps.RebootJob>();
        services.AddScoped<Jobs.Vps.DeleteJob>();
        services.AddScoped<Jobs.Vps.ReconcileJob>();
        services.AddScoped<Jobs.Vps.SnapshotJob>();
        services.AddScoped<Jobs.Vps.RestoreJob>();
        services.AddScoped<Jobs.Vps.DeleteSnapshotJob>();
        services.AddScoped<Jobs.Vps.ReinstallJob>();
        services.AddScoped<Jobs.Vps.ResizeJob>();
        services.AddScoped<Jobs.Vps.ThrottleJob>();
        services.AddScoped<Jobs.Vps.UnthrottleJob>();
        services.AddScoped<Jobs.Vps.ResetAccessJob>();
        services.AddScoped<Jobs.Vps.SuspendJob>();
        services.AddScoped<Jobs.Vps.UnsuspendJob>();
        services.AddScoped<Jobs.Vps.BackupJob>();
        services.AddScoped<Jobs.Vps.RestoreBackupJob>();
        services.AddScoped<Jobs.Vps.DeleteBackupJob>();
        services.AddScoped<Jobs.Vps.MigrateJob>();
        services.AddScoped<Jobs.Vps.MetricsJob>();
        services.AddSingleton<Jobs.Vps.BackupFolders>();
        if (options.Jobs.RunServer)
        {
            // This process serves a node's queue: it is a node, so it registers and reports.
            services.AddSingleton<NodeAgent>();
            services.AddHostedService(sp => sp.GetRequiredService<NodeAgent>());
        }
        return identity;
    }
}
