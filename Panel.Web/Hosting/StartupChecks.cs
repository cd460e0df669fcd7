using Panel.Core.Persistence;

namespace Panel.Web.Hosting;

/// <summary>The checks both hosts (panel and node agent) make before they start, each failing with one clear line.</summary>
internal static class StartupChecks
{
    /// <summary>The configured connection string, or null after printing what to set.</summary>
    public static string? ConnectionString(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString("Panel");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            Console.Error.WriteLine("error: no database configured: set ConnectionStrings:Panel (environment variable ConnectionStrings__Panel).");
            return null;
        }

        return connectionString;
    }

    /// <summary>Whether PostgreSQL answers; when it does not, prints one line naming host, port and database.</summary>
    public static async Task<bool> DatabaseAnswersAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var problem = await PanelDatabase.ProbeAsync(connectionString, TimeSpan.FromSeconds(5), cancellationToken);
        if (problem is not null)
        {
            Console.Error.WriteLine($"error: cannot reach PostgreSQL at {PanelDatabase.Describe(connectionString)}: {problem}");
        }

        return problem is null;
    }
}
