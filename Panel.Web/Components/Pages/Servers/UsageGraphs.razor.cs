using System.Globalization;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Shared;

namespace Panel.Web.Components.Pages.Servers;

/// <summary>Usage graphs of one server from <see cref="VpsService.MetricsAsync"/>, with a range switch; reloads every minute.</summary>
public sealed partial class UsageGraphs : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private MetricsRange range = MetricsRange.Hour;
    private IReadOnlyList<MetricPoint>? points;
    private IReadOnlyList<Graph> graphs = [];
    private string[] labels = [];
    private bool started;

    /// <summary>The server.</summary>
    [Parameter, EditorRequired]
    public int VpsId { get; set; }

    /// <summary>Who is looking (the service checks that they may).</summary>
    [Parameter, EditorRequired]
    public Actor Actor { get; set; } = default!;

    [Inject]
    private VpsService Vpses { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        await LoadAsync(stop.Token);
        if (RendererInfo.IsInteractive && !started)
        {
            started = true;
            _ = RefreshAsync();
        }
    }

    private static string RangeText(MetricsRange r) => r switch
    {
        MetricsRange.Hour => "Hour",
        MetricsRange.Day => "Day",
        _ => "Month",
    };

    private async Task SwitchAsync(MetricsRange to)
    {
        range = to;
        points = null;
        await LoadAsync(stop.Token);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        try
        {
            points = await Vpses.MetricsAsync(Actor, VpsId, range, cancellationToken);
        }
        catch (PanelNotFoundException)
        {
            points = [];
        }

        var format = range == MetricsRange.Hour ? "HH:mm" : range == MetricsRange.Day ? "HH:mm" : "MM-dd";
        var every = Math.Max(1, points.Count / 6); // about six labels along the axis
        labels = points.Select((p, i) => i % every == 0 ? p.At.ToString(format, CultureInfo.InvariantCulture) : "").ToArray();
        graphs = points.Count == 0 ? [] :
        [
            Graph.Of("cpu", "CPU (%)", [("CPU", points.Select(p => p.CpuPercent))], string.Create(CultureInfo.InvariantCulture, $"{points[^1].CpuPercent:0.#} %")),
            Graph.Of("memory", "Memory (MiB)", [("used", points.Select(p => p.MemoryBytes / 1048576.0))], Format.Bytes(points[^1].MemoryBytes)),
            Graph.Of("disk", "Disk (MiB)", [("used", points.Select(p => p.DiskUsedBytes / 1048576.0))], Format.Bytes(points[^1].DiskUsedBytes)),
            Graph.Of("network", "Network (KiB/s)", [("in", points.Select(p => p.RxBytesPerSecond / 1024)), ("out", points.Select(p => p.TxBytesPerSecond / 1024))],
                string.Create(CultureInfo.InvariantCulture, $"in {points[^1].RxBytesPerSecond / 1024:0.#}, out {points[^1].TxBytesPerSecond / 1024:0.#} KiB/s")),
        ];
    }

    private async Task RefreshAsync() =>
        await LiveRefresh.RunAsync(TimeSpan.FromMinutes(1), LoadAsync, () => InvokeAsync(StateHasChanged), stop.Token);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        stop.Dispose();
    }

    /// <summary>One chart: its series and options.</summary>
    private sealed record Graph(string Key, string Title, List<ChartSeries<double>> Series, LineChartOptions Options, string Latest)
    {
        public static Graph Of(string key, string title, IEnumerable<(string Name, IEnumerable<double> Values)> series, string latest) => new(
            key,
            title,
            series.Select(s => new ChartSeries<double> { Name = s.Name, Data = new ChartData<double>(s.Values.Select(v => Math.Round(v, 2)).ToArray()) }).ToList(),
            new LineChartOptions { ShowLegend = key == "network", YAxisRequireZeroPoint = true, LineStrokeWidth = 2, YAxisFormat = "0.#" },
            latest);
    }
}
