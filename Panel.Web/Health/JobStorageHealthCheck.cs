using Hangfire;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Panel.Web.Health;

/// <summary>Ready when Hangfire's storage answers a query (its servers list).</summary>
internal sealed class JobStorageHealthCheck(JobStorage storage) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // Hangfire's API is synchronous; keep it off the request thread.
            var servers = await Task.Run(() => storage.GetMonitoringApi().Servers().Count, cancellationToken);
            return HealthCheckResult.Healthy($"{servers} job server(s)");
        }
#pragma warning disable CA1031 // Any failure of the storage means "not ready"; the reason is reported.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return HealthCheckResult.Unhealthy($"job storage: {ex.GetBaseException().Message}");
        }
    }
}
