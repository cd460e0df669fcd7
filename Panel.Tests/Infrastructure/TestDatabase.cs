using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Panel.Core.Persistence;
using Respawn;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// One PostgreSQL database per test run (<c>panel_test_TIMESTAMP_RANDOM</c>), migrated once, reset
/// between tests with Respawn, dropped at the end. Stale databases of crashed runs are dropped too.
/// </summary>
public sealed class TestDatabase : IAsyncLifetime
{
    private Respawner? respawner;

    /// <summary>The database's name.</summary>
    public string Name { get; } = CreateName();

    /// <summary>A connection string for the panel's role to this database.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var admin = new NpgsqlConnectionStringBuilder(TestEnvironment.AdminConnectionString);
        await DropStaleAsync(admin.ConnectionString);
        await ExecuteAsync(admin.ConnectionString, $"CREATE DATABASE \"{Name}\"");
        ConnectionString = new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = Name, MaxPoolSize = 50 }.ConnectionString;

        await using var db = CreateContext();
        await PanelDatabase.MigrateAsync(db);
    }

    /// <summary>A fresh EF context on this database.</summary>
    public PanelDbContext CreateContext()
    {
        var options = new DbContextOptionsBuilder<PanelDbContext>();
        PanelDatabase.Configure(options, ConnectionString);
        return new PanelDbContext(options.Options);
    }

    /// <summary>Deletes every row the tests wrote (roles and migration history stay; Hangfire's schema is left alone).</summary>
    public async Task ResetAsync()
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        respawner ??= await Respawner.CreateAsync(conn, new RespawnerOptions
        {
            DbAdapter = DbAdapter.Postgres,
            SchemasToInclude = ["public"],
            TablesToIgnore = ["__ef_migrations_history", "roles", "data_protection_keys"],
        });
        // The panel under test heartbeats every second (node row, IP pool): a reset can deadlock with
        // it; PostgreSQL then aborts one side, and the reset simply runs again.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await respawner.ResetAsync(conn);
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 5)
            {
                await Task.Delay(50 * attempt);
            }
        }
    }

    /// <summary>A new empty database on the same server (for start-up tests); the caller drops it.</summary>
    public static async Task<string> CreateEmptyAsync()
    {
        var name = CreateName();
        await ExecuteAsync(TestEnvironment.AdminConnectionString, $"CREATE DATABASE \"{name}\"");
        return new NpgsqlConnectionStringBuilder(TestEnvironment.AdminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>Drops a database made by <see cref="CreateEmptyAsync"/>.</summary>
    public static Task DropAsync(string connectionString)
    {
        NpgsqlConnection.ClearAllPools();
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        return ExecuteAsync(TestEnvironment.AdminConnectionString, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await DropAsync(ConnectionString);

    private static string CreateName()
        => string.Create(CultureInfo.InvariantCulture, $"panel_test_{DateTime.UtcNow:yyyyMMddHHmmss}_{Random.Shared.Next(100000, 999999)}");

    private static async Task DropStaleAsync(string adminConnectionString)
    {
        // Databases of runs that died more than 6 hours ago.
        var cutoff = DateTime.UtcNow.AddHours(-6).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var stale = new List<string>();
        await using (var conn = new NpgsqlConnection(adminConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT datname FROM pg_database WHERE datname LIKE 'panel\\_test\\_%' AND substr(datname, 12, 14) < @cutoff", conn);
            cmd.Parameters.AddWithValue("cutoff", cutoff);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                stale.Add(reader.GetString(0));
            }
        }

        foreach (var name in stale)
        {
            await ExecuteAsync(adminConnectionString, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
