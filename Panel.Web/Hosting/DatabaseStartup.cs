using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Panel.Core;
using Panel.Core.Persistence;
using Panel.Core.Services;

namespace Panel.Web.Hosting;

/// <summary>Before the panel serves: the database must answer, be migrated and hold an admin.</summary>
public static class DatabaseStartup
{
    /// <summary>Probes, migrates and seeds. Returns 0, or prints one line and returns a non-zero exit code.</summary>
    public static async Task<int> PrepareDatabaseAsync(this WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        var connectionString = app.Services.GetRequiredService<PanelConnection>().ConnectionString;
        var options = app.Services.GetRequiredService<PanelOptions>();

        if (!await StartupChecks.DatabaseAnswersAsync(connectionString, cancellationToken))
        {
            return 3;
        }

        if (!options.Database.MigrateOnStart)
        {
            return 0;
        }

        try
        {
            await using var scope = app.Services.CreateAsyncScope();
            // Migrate without EF's command log: on an empty database EF probes the history table
            // before creating it, and that expected failure must not read like an error.
            var migrateOptions = new DbContextOptionsBuilder<PanelDbContext>().UseLoggerFactory(NullLoggerFactory.Instance);
            PanelDatabase.Configure(migrateOptions, connectionString);
            await using (var db = new PanelDbContext(migrateOptions.Options))
            {
                await PanelDatabase.MigrateAsync(db, cancellationToken);
            }

            var seeder = scope.ServiceProvider.GetRequiredService<AdminSeeder>();
            var seeded = await seeder.SeedAsync(
                Environment.GetEnvironmentVariable("PANEL_ADMIN_EMAIL") ?? app.Configuration["Panel:Admin:Email"],
                Environment.GetEnvironmentVariable("PANEL_ADMIN_PASSWORD") ?? app.Configuration["Panel:Admin:Password"],
                cancellationToken);
            if (seeded.Created)
            {
                Console.WriteLine(seeded.GeneratedPassword is null
                    ? $"Created the first admin account: {seeded.Email} (password from PANEL_ADMIN_PASSWORD)."
                    : $"Created the first admin account: {seeded.Email} with password {seeded.GeneratedPassword} - it is shown only this once.");
            }

            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync(cancellationToken);
            // The installation-wide billing jobs (metering, invoices, dunning) and the mail outbox on the default queue.
            Panel.Core.Jobs.Billing.BillingJobs.Register(app.Services.GetRequiredService<Hangfire.IRecurringJobManager>(), options.Billing);
            Panel.Core.Jobs.Api.ApiIdempotencyPurgeJob.Register(app.Services.GetRequiredService<Hangfire.IRecurringJobManager>());
            Panel.Core.Jobs.Mail.MailOutboxJob.Register(app.Services.GetRequiredService<Hangfire.IRecurringJobManager>(), options.Mail);
            Panel.Core.Jobs.Hosting.CertificateRenewalJob.Register(app.Services.GetRequiredService<Hangfire.IRecurringJobManager>(), options.Edge);
            return 0;
        }
        catch (InvalidOperationException ex) when (ex.Message.StartsWith("cannot create", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 4;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or DbUpdateException)
        {
            Console.Error.WriteLine($"error: database preparation failed at {PanelDatabase.Describe(connectionString)}: {ex.Message.ReplaceLineEndings(" ")}");
            return 3;
        }
    }
}
