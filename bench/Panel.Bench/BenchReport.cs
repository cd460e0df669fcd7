using System.Globalization;

namespace Panel.Bench;

/// <summary>Command-line options of a bench run.</summary>
/// <param name="Iterations">Samples per timed measurement.</param>
/// <param name="Density">Instances in the density measurement.</param>
/// <param name="Rounds">Load rounds per target (hosting).</param>
public sealed record BenchOptions(int Iterations, int Density, int Rounds = 5)
{
    /// <summary>Parses <c>--iterations N</c>, <c>--density N</c> and <c>--rounds N</c>.</summary>
    public static BenchOptions Parse(string[] args)
    {
        int Get(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        }

        return new BenchOptions(Get("--iterations", 20), Get("--density", 100), Get("--rounds", 5));
    }
}

/// <summary>Summary statistics of a set of samples, in milliseconds.</summary>
/// <param name="Samples">How many samples.</param>
/// <param name="Median">The median.</param>
/// <param name="P95">The 95th percentile.</param>
/// <param name="Min">The fastest.</param>
/// <param name="Max">The slowest.</param>
public sealed record Stats(int Samples, double Median, double P95, double Min, double Max)
{
    /// <summary>Statistics of <paramref name="values"/>.</summary>
    public static Stats Of(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToArray();
        double Pct(double p) => sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Stats(sorted.Length, Math.Round(Pct(0.5), 2), Math.Round(Pct(0.95), 2), Math.Round(sorted.FirstOrDefault(), 2), Math.Round(sorted.LastOrDefault(), 2));
    }
}

/// <summary>One row: the panel's figure beside the raw peer's, and their ratio.</summary>
/// <param name="Name">What was measured.</param>
/// <param name="Unit">Unit of the figures.</param>
/// <param name="Panel">The panel's statistics.</param>
/// <param name="Peer">The peer's statistics (null when there is no peer).</param>
/// <param name="PeerName">What the peer is, e.g. raw lxc-start.</param>
/// <param name="Goal">The ratio goal, when the issue sets one.</param>
/// <param name="HigherIsBetter">Whether the goal is a floor (throughput) rather than a ceiling (time).</param>
public sealed record BenchRow(string Name, string Unit, Stats Panel, Stats? Peer, string? PeerName, double? Goal, bool HigherIsBetter = false)
{
    /// <summary>Panel median over peer median.</summary>
    public double? Ratio => Peer is { Median: > 0 } p ? Math.Round(Panel.Median / p.Median, 2) : null;

    /// <summary>Whether the goal is met (null without a goal).</summary>
    public bool? GoalMet => Goal is { } g && Ratio is { } r ? (HigherIsBetter ? r >= g : r <= g) : null;
}

/// <summary>A suite's results: rows, single figures and notes about the machine.</summary>
/// <param name="Suite">The suite name.</param>
/// <param name="At">When it ran (UTC).</param>
/// <param name="Machine">CPU count, memory, kernel.</param>
/// <param name="Rows">Timed rows.</param>
/// <param name="Figures">Other single figures (density…).</param>
/// <param name="Notes">What a reader should know.</param>
public sealed record BenchReport(string Suite, DateTime At, IReadOnlyDictionary<string, string> Machine, IReadOnlyList<BenchRow> Rows, IReadOnlyDictionary<string, double> Figures, IReadOnlyList<string> Notes)
{
    /// <summary>Prints a table.</summary>
    public void Print(TextWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench {Suite} - {string.Join(", ", Machine.Select(kv => $"{kv.Key} {kv.Value}"))}"));
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"measurement",-38} {"panel p50",10} {"panel p95",10} {"peer p50",10} {"peer p95",10} {"ratio",7} {"goal",6}  peer"));
        foreach (var r in Rows)
        {
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name + " (" + r.Unit + ")",-38} {r.Panel.Median,10:0.0} {r.Panel.P95,10:0.0} {F(r.Peer?.Median),10} {F(r.Peer?.P95),10} {F(r.Ratio),7} {F(r.Goal),6}  {r.PeerName}{(r.GoalMet == false ? "  (goal missed)" : "")}"));
        }

        foreach (var (k, v) in Figures)
        {
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{k,-38} {v,10:0.00}"));
        }

        foreach (var n in Notes)
        {
            w.WriteLine("note: " + n);
        }
    }

    private static string F(double? v) => v is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) : "-";
}
