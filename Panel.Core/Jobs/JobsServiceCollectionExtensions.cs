using System.Text.RegularExpressions;
using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.DependencyInjection;

namespace Panel.Core.Jobs;

/// <summary>Hangfire on PostgreSQL: the job backbone shared by the panel and every node agent.</summary>
public static partial class JobsServiceCollectionExtensions
{
    /// <summary>The queue every process serves.</summary>
    public const string DefaultQueue = "default";

    /// <summary>The queue of one node: jobs that drive that node's engine go here.</summary>
    public static string NodeQueue(string nodeName) => "node-" + NodeKey(nodeName);

    /// <summary>A node's stored name: the configured one, lower-case, with anything a queue name cannot hold replaced by <c>_</c>.</summary>
    public static string NodeKey(string nodeName)
    {
        var lower = (nodeName ?? "").Trim().ToLowerInvariant();
        return QueueUnsafe().Replace(lower, "_");
    }

    /// <summary>Registers Hangfire's storage (its own schema, LISTEN/NOTIFY long polling) and, when asked, a server.</summary>
    public static IServiceCollection AddPanelJobs(this IServiceCollection services, string connectionString, JobsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddHangfire(config => config
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UsePostgreSqlStorage(
                pg => pg.UseNpgsqlConnection(connectionString),
                new PostgreSqlStorageOptions
                {
                    SchemaName = options.Schema,
                    PrepareSchemaIfNecessary = true,
                    // LISTEN/NOTIFY: an enqueued job is picked up in milliseconds, not at the next poll.
                    EnableLongPolling = true,
                    QueuePollInterval = TimeSpan.FromSeconds(15),
                    DistributedLockTimeout = TimeSpan.FromMinutes(1),
                }));

        if (options.RunServer)
        {
            services.AddHangfireServer(server =>
            {
                server.ServerName = $"{Environment.MachineName}:{options.NodeName}:{Environment.ProcessId}";
                server.Queues = [NodeQueue(options.NodeName), DefaultQueue];
                server.WorkerCount = Math.Clamp(options.WorkerCount, 1, 64);
                server.SchedulePollingInterval = TimeSpan.FromSeconds(5);
                server.ShutdownTimeout = TimeSpan.FromSeconds(10);
            });
        }

        return services;
    }

    // Hangfire queue names allow only lower-case letters, digits, underscores and dashes.
    [GeneratedRegex("[^a-z0-9_-]")]
    private static partial Regex QueueUnsafe();
}
