using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Network;

/// <summary>The node's bridge: created by the engine with the guests' gateway address; no NAT to the uplink.</summary>
public sealed class NodeBridge(string name, GuestNetwork network, IProcessRunner runner)
{
    /// <summary>The bridge's interface name.</summary>
    public string Name { get; } = name;

    /// <summary>Whether the bridge exists.</summary>
    public bool Exists => Directory.Exists($"/sys/class/net/{Name}");

    private volatile bool ensured;

    /// <summary>Creates the bridge if missing, gives it the gateway address(es) and brings it up.</summary>
    public async Task EnsureAsync(CancellationToken cancellationToken = default)
    {
        // Once set up, a cheap existence check is enough (a deleted bridge is set up again).
        if (ensured && Exists)
        {
            return;
        }

        if (!Exists)
        {
            var add = await runner.RunAsync("ip", ["link", "add", Name, "type", "bridge"], null, cancellationToken);
            if (!add.Succeeded && !Exists)
            {
                add.ThrowIfFailed();
            }
        }

        var addrs = (await runner.RunAsync("ip", ["-o", "addr", "show", "dev", Name], null, cancellationToken)).ThrowIfFailed().StdOut;
        if (!addrs.Contains($" {network.GatewayCidr} ", StringComparison.Ordinal))
        {
            await runner.RunAsync("ip", ["addr", "add", network.GatewayCidr, "dev", Name], null, cancellationToken);
        }

        if (network.Gateway6 is { } gw6 && network.Subnet6 is { } net6 && !addrs.Contains(gw6.ToString(), StringComparison.Ordinal))
        {
            // nodad: the address is ours alone on this bridge; without it the gateway stays "tentative"
            // for a second or two after a start and guests cannot reach it.
            await runner.RunAsync("ip", ["-6", "addr", "add", $"{gw6}/{net6.PrefixLength}", "dev", Name, "nodad"], null, cancellationToken);
        }

        (await runner.RunAsync("ip", ["link", "set", Name, "up"], null, cancellationToken)).ThrowIfFailed();
        ensured = true;
    }

    /// <summary>Removes the bridge (tests and node removal).</summary>
    public async Task DeleteAsync(CancellationToken cancellationToken = default)
    {
        if (Exists)
        {
            await runner.RunAsync("ip", ["link", "del", Name], null, cancellationToken);
        }
    }
}
