using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Panel.Core.Persistence;

/// <summary>Connection-level helpers: one place that configures the provider, describes the target
/// database for error messages, checks reachability and applies migrations.</summary>
public static class PanelDatabase
{
    /// <summary>Configures EF Core for the panel's PostgreSQL database.</summary>
    public static void Configure(DbContextOptionsBuilder options, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.UseNpgsql(connectionString, npgsql => npgsql.MigrationsHistoryTable("__ef_migrations_history"))
            .UseSnakeCaseNamingConvention();
    }

    /// <summary>"host 127.0.0.1, port 5433, database panel" - for messages, never with the password.</summary>
    public static string Describe(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"host {b.Host ?? "localhost"}, port {b.Port}, database {b.Database ?? b.Username ?? "(default)"}";
    }

    /// <summary>
    /// Opens one short connection to prove the database answers. Returns null when it does, or a
    /// one-line reason ("connection refused") when it does not. Never throws for network errors.
    /// </summary>
    public static async Task<string?> ProbeAsync(string connectionString, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false,
            Timeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
            CommandTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
        };
        try
        {
            await using var conn = new NpgsqlConnection(b.ConnectionString);
            await conn.OpenAsync(cancellationToken);
            await using var cmd = new NpgsqlCommand("SELECT 1", conn);
            await cmd.ExecuteScalarAsync(cancellationToken);
            return null;
        }
        catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException or InvalidOperationException)
        {
            return OneLine(ex);
        }
    }

    /// <summary>Applies every pending EF Core migration.</summary>
    public static async Task MigrateAsync(PanelDbContext db, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(db);
        await db.Database.MigrateAsync(cancellationToken);
    }

    private static string OneLine(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null && inner is not PostgresException)
        {
            inner = inner.InnerException;
        }

        var message = inner is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : inner.Message;
        return message.ReplaceLineEndings(" ").Trim();
    }
}
