using Microsoft.Extensions.Diagnostics.HealthChecks;
using Panel.Core.Persistence;
using Panel.Web.Hosting;

namespace Panel.Web.Health;

/// <summary>Ready when a fresh (unpooled) connection to PostgreSQL answers <c>SELECT 1</c>.</summary>
internal sealed class DatabaseHealthCheck(PanelConnection connection) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problem = await PanelDatabase.ProbeAsync(connection.ConnectionString, TimeSpan.FromSeconds(3), cancellationToken);
        return problem is null
            ? HealthCheckResult.Healthy("PostgreSQL answers")
            : HealthCheckResult.Unhealthy($"PostgreSQL at {PanelDatabase.Describe(connection.ConnectionString)}: {problem}");
    }
}
