using Microsoft.EntityFrameworkCore;

namespace Panel.Core.Services;

/// <summary>The span a usage graph covers.</summary>
public enum MetricsRange
{
    /// <summary>The last hour, minute by minute.</summary>
    Hour,

    /// <summary>The last day, in 10-minute steps.</summary>
    Day,

    /// <summary>The last 30 days, in 6-hour steps.</summary>
    Month,
}

/// <summary>One point of a usage graph.</summary>
/// <param name="At">Start of the step (UTC).</param>
/// <param name="CpuPercent">CPU use in percent of the VPS's vCPUs.</param>
/// <param name="MemoryBytes">Memory in use.</param>
/// <param name="DiskUsedBytes">Disk used.</param>
/// <param name="RxBytesPerSecond">Received bytes per second.</param>
/// <param name="TxBytesPerSecond">Sent bytes per second.</param>
public sealed record MetricPoint(DateTime At, double CpuPercent, long MemoryBytes, long DiskUsedBytes, double RxBytesPerSecond, double TxBytesPerSecond);

// Usage graphs.
public sealed partial class VpsService
{
    /// <summary>The VPS's usage over <paramref name="range"/>, oldest first (only steps with samples).</summary>
    public async Task<IReadOnlyList<MetricPoint>> MetricsAsync(Actor actor, int vpsId, MetricsRange range, CancellationToken cancellationToken = default)
    {
        await RequireVisibleAsync(actor, vpsId, cancellationToken);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        if (range == MetricsRange.Month)
        {
            var since = now.AddDays(-30);
            var hours = await db.VpsMetricHours.AsNoTracking().Where(m => m.VpsId == vpsId && m.Hour >= since).OrderBy(m => m.Hour)
                .Select(m => new MetricPoint(m.Hour, m.CpuPercent, m.MemoryBytes, m.DiskUsedBytes, m.RxBytesPerSecond, m.TxBytesPerSecond))
                .ToListAsync(cancellationToken);
            return Bucket(hours, TimeSpan.FromHours(6));
        }

        var from = now - (range == MetricsRange.Hour ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1));
        var minutes = await db.VpsMetrics.AsNoTracking().Where(m => m.VpsId == vpsId && m.At >= from).OrderBy(m => m.At)
            .Select(m => new MetricPoint(m.At, m.CpuPercent, m.MemoryBytes, m.DiskUsedBytes, m.RxBytesPerSecond, m.TxBytesPerSecond))
            .ToListAsync(cancellationToken);
        return range == MetricsRange.Hour ? minutes : Bucket(minutes, TimeSpan.FromMinutes(10));
    }

    /// <summary>Averages points into steps of <paramref name="step"/> (disk: the highest).</summary>
    internal static IReadOnlyList<MetricPoint> Bucket(IReadOnlyList<MetricPoint> points, TimeSpan step)
        => points.GroupBy(p => new DateTime(p.At.Ticks - (p.At.Ticks % step.Ticks), DateTimeKind.Utc))
            .Select(g => new MetricPoint(
                g.Key,
                Math.Round(g.Average(p => p.CpuPercent), 2),
                (long)g.Average(p => p.MemoryBytes),
                g.Max(p => p.DiskUsedBytes),
                Math.Round(g.Average(p => p.RxBytesPerSecond), 1),
                Math.Round(g.Average(p => p.TxBytesPerSecond), 1)))
            .OrderBy(p => p.At)
            .ToList();
}
