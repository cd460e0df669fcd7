namespace Panel.Core.Domain.Metrics;

/// <summary>
/// One minute of a running VPS's usage, as its node measured it. The raw counters (CPU time,
/// bytes since the guest started) let the next sample compute rates; the rates are what graphs
/// show. Kept <see cref="Retention"/>; older minutes live on as hourly averages.
/// </summary>
public sealed class VpsMetric
{
    /// <summary>How long minute samples are kept.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(48);

    /// <summary>The VPS.</summary>
    public int VpsId { get; set; }

    /// <summary>The minute (UTC, seconds cut off).</summary>
    public DateTime At { get; set; }

    /// <summary>CPU time since the guest started, in milliseconds (raw counter).</summary>
    public long CpuTimeMs { get; set; }

    /// <summary>Bytes received since the guest started (raw counter).</summary>
    public long RxBytes { get; set; }

    /// <summary>Bytes sent since the guest started (raw counter).</summary>
    public long TxBytes { get; set; }

    /// <summary>CPU use since the previous sample, in percent of the VPS's vCPUs (0-100).</summary>
    public double CpuPercent { get; set; }

    /// <summary>Memory in use.</summary>
    public long MemoryBytes { get; set; }

    /// <summary>Bytes used on its disk.</summary>
    public long DiskUsedBytes { get; set; }

    /// <summary>Received bytes per second since the previous sample.</summary>
    public double RxBytesPerSecond { get; set; }

    /// <summary>Sent bytes per second since the previous sample.</summary>
    public double TxBytesPerSecond { get; set; }
}

/// <summary>One hour of a VPS's usage: averages of its minutes (disk: the highest). Kept <see cref="Retention"/>.</summary>
public sealed class VpsMetricHour
{
    /// <summary>How long hourly figures are kept.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(90);

    /// <summary>The VPS.</summary>
    public int VpsId { get; set; }

    /// <summary>The hour (UTC).</summary>
    public DateTime Hour { get; set; }

    /// <summary>Average CPU percent.</summary>
    public double CpuPercent { get; set; }

    /// <summary>Average memory in use.</summary>
    public long MemoryBytes { get; set; }

    /// <summary>Highest disk use.</summary>
    public long DiskUsedBytes { get; set; }

    /// <summary>Average received bytes per second.</summary>
    public double RxBytesPerSecond { get; set; }

    /// <summary>Average sent bytes per second.</summary>
    public double TxBytesPerSecond { get; set; }

    /// <summary>Minutes it averages.</summary>
    public int Samples { get; set; }
}
