using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Metrics;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Jobs.Vps;

/// <summary>
/// Every minute, on each node's own queue: one usage sample per running VPS of the node (CPU,
/// memory, disk, network, with rates against the previous sample), its traffic counted for billing
/// (<see cref="TrafficMeter"/>: the port counters' delta, per VPS and UTC day), completed hours rolled up
/// into hourly averages, and what is past its retention removed. A sample's key is (VPS, minute), so a
/// late, repeated or concurrent run adds nothing twice - neither a sample nor its traffic.
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class MetricsJob(IDbContextFactory<PanelDbContext> dbFactory, DriverRegistry drivers, PanelOptions options, TimeProvider clock, ILogger<MetricsJob> logger)
{
    /// <summary>The recurring job's id for a node.</summary>
    public static string RecurringId(string node) => "metrics-" + JobsServiceCollectionExtensions.NodeKey(node);

    /// <summary>Samples this node's running VPSes; returns how many samples were written.</summary>
    [JobDisplayName("Collect usage")]
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var nodeName = JobsServiceCollectionExtensions.NodeKey(options.Jobs.NodeName);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        var minute = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerMinute), DateTimeKind.Utc);
        var vpses = await db.Vpses.AsNoTracking()
            .Where(v => v.Node != null && v.Node.Name == nodeName && v.DeletedAt == null && v.Status == VpsStatus.Running)
            .Select(v => new { v.Id, v.EngineId, v.Vcpus, v.Plan.Approach })
            .ToListAsync(cancellationToken);
        var ids = vpses.Select(v => v.Id).ToList();
        var previous = await db.VpsMetrics.AsNoTracking()
            .Where(m => ids.Contains(m.VpsId) && m.At < minute && m.At >= minute.AddMinutes(-10))
            .GroupBy(m => m.VpsId)
            .Select(g => g.OrderByDescending(m => m.At).First())
            .ToDictionaryAsync(m => m.VpsId, cancellationToken);

        var samples = new List<VpsMetric>();
        foreach (var v in vpses)
        {
            InstanceMetrics? metrics;
            try
            {
                metrics = (await drivers.For(v.Approach).GetStateAsync(new StateOptions(v.EngineId, WithMetrics: true), cancellationToken)).Metrics;
            }
            catch (EngineException ex)
            {
                logger.LogDebug("metrics of VPS {Vps}: {Reason}", v.Id, ex.Message);
                continue;
            }

            if (metrics is null)
            {
                continue; // not running after all
            }

            samples.Add(Sample(v.Id, v.Vcpus, minute, metrics, previous.GetValueOrDefault(v.Id)));
        }

        // The samples and their traffic (each sample's counter delta, once) in one transaction.
        var written = await TrafficMeter.RecordAsync(db, samples, cancellationToken);
        await RollUpAndExpireAsync(db, now, cancellationToken);
        return written;
    }

    /// <summary>A sample with its rates against the previous one (a counter that went back means the guest restarted: rates from zero).</summary>
    public static VpsMetric Sample(int vpsId, int vcpus, DateTime minute, InstanceMetrics metrics, VpsMetric? previous)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var cpuMs = (long)metrics.CpuTime.TotalMilliseconds;
        double cpu = 0, rx = 0, tx = 0;
        if (previous is not null && previous.At < minute)
        {
            var seconds = (minute - previous.At).TotalSeconds;
            double Rate(long now, long before) => now >= before ? (now - before) / seconds : now / seconds;
            cpu = Math.Clamp(Rate(cpuMs, previous.CpuTimeMs) / 10.0 / Math.Max(1, vcpus), 0, 100); // ms per s / 10 = percent of one CPU
            rx = Rate(metrics.RxBytes, previous.RxBytes);
            tx = Rate(metrics.TxBytes, previous.TxBytes);
        }

        return new VpsMetric
        {
            VpsId = vpsId, At = minute, CpuTimeMs = cpuMs, RxBytes = metrics.RxBytes, TxBytes = metrics.TxBytes,
            CpuPercent = Math.Round(cpu, 2), MemoryBytes = metrics.MemoryBytes, DiskUsedBytes = metrics.DiskUsedBytes,
            RxBytesPerSecond = Math.Round(rx, 1), TxBytesPerSecond = Math.Round(tx, 1),
        };
    }

    private static async Task RollUpAndExpireAsync(PanelDbContext db, DateTime now, CancellationToken cancellationToken)
    {
        var hour = new DateTime(now.Year, now.Month, now.Day, now.Hour, 0, 0, DateTimeKind.Utc);
        var from = hour.AddHours(-3);
        // Completed hours only; a repeated or concurrent run inserts nothing new.
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO vps_metric_hours (vps_id, hour, cpu_percent, memory_bytes, disk_used_bytes, rx_bytes_per_second, tx_bytes_per_second, samples)
            SELECT vps_id, date_trunc('hour', at), avg(cpu_percent), avg(memory_bytes)::bigint, max(disk_used_bytes), avg(rx_bytes_per_second), avg(tx_bytes_per_second), count(*)
            FROM vps_metrics WHERE at >= {from} AND at < {hour}
            GROUP BY vps_id, date_trunc('hour', at)
            ON CONFLICT (vps_id, hour) DO NOTHING
            """, cancellationToken);
        var minutesBefore = now - VpsMetric.Retention;
        var hoursBefore = now - VpsMetricHour.Retention;
        await db.VpsMetrics.Where(m => m.At < minutesBefore).ExecuteDeleteAsync(cancellationToken);
        await db.VpsMetricHours.Where(m => m.Hour < hoursBefore).ExecuteDeleteAsync(cancellationToken);
    }
}
