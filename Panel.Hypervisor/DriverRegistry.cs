using System.Collections.Concurrent;
using Panel.Hypervisor.Instances;

namespace Panel.Hypervisor;

/// <summary>Picks drivers by name or approach and caches their probe results (a probe may boot a test guest).</summary>
public sealed class DriverRegistry
{
    private readonly Dictionary<string, IInstanceDriver> drivers;
    private readonly ConcurrentDictionary<string, Lazy<Task<DriverInfo>>> probes = new(StringComparer.Ordinal);

    /// <summary>Registers the given drivers (names must be unique).</summary>
    public DriverRegistry(IEnumerable<IInstanceDriver> drivers)
    {
        ArgumentNullException.ThrowIfNull(drivers);
        this.drivers = drivers.ToDictionary(d => d.Name, StringComparer.Ordinal);
    }

    /// <summary>The registered driver names.</summary>
    public IReadOnlyCollection<string> Names => drivers.Keys;

    /// <summary>The driver called <paramref name="name"/>.</summary>
    public IInstanceDriver Get(string name)
        => drivers.TryGetValue(name, out var d)
            ? d
            : throw new EngineException(EngineErrorCode.NotFound, $"no driver '{name}' (known: {string.Join(", ", drivers.Keys)})", "Driver");

    /// <summary>The driver of an approach.</summary>
    public IInstanceDriver For(VirtualizationKind kind)
        => drivers.Values.FirstOrDefault(d => d.Kind == kind)
           ?? throw new EngineException(EngineErrorCode.DriverUnavailable, $"no driver for {kind} on this node");

    /// <summary>
    /// A driver's probe, from the cache unless <paramref name="refresh"/> is set. The probe is shared by every
    /// caller and runs to its end (its own time-outs bound it) whoever asked first: a caller that gives up stops
    /// waiting, it does not cancel the probe the others wait for. A probe that failed is not kept.
    /// </summary>
    public async Task<DriverInfo> ProbeAsync(string name, bool refresh = false, CancellationToken cancellationToken = default)
    {
        var driver = Get(name);
        if (refresh)
        {
            probes.TryRemove(name, out _);
        }

        var lazy = probes.GetOrAdd(name, _ => new Lazy<Task<DriverInfo>>(() => driver.ProbeAsync(new ProbeOptions(refresh), CancellationToken.None)));
        Task<DriverInfo> probe;
        try
        {
            probe = lazy.Value;
        }
        catch
        {
            probes.TryRemove(KeyValuePair.Create(name, lazy));
            throw;
        }

        try
        {
            return await probe.WaitAsync(cancellationToken);
        }
        catch when (probe.IsFaulted || probe.IsCanceled)
        {
            probes.TryRemove(KeyValuePair.Create(name, lazy));
            throw;
        }
    }

    /// <summary>Every driver's probe.</summary>
    public async Task<IReadOnlyList<DriverInfo>> ProbeAllAsync(bool refresh = false, CancellationToken cancellationToken = default)
        => await Task.WhenAll(drivers.Keys.Order(StringComparer.Ordinal).Select(n => ProbeAsync(n, refresh, cancellationToken)));

    /// <summary>A usable driver called <paramref name="name"/>, or a <see cref="EngineErrorCode.DriverUnavailable"/> error with the probe's reason.</summary>
    public async Task<IInstanceDriver> GetUsableAsync(string name, CancellationToken cancellationToken = default)
    {
        var info = await ProbeAsync(name, false, cancellationToken);
        return info.Usable
            ? Get(name)
            : throw new EngineException(EngineErrorCode.DriverUnavailable, $"the {name} driver cannot run on this node: {info.Reason}");
    }
}
