using System.Text;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Network;

/// <summary>
/// nftables rules that pin each guest port to its own MAC and addresses (bridge family, prerouting):
/// a guest that sends with a neighbour's IP or MAC has every such frame dropped, towards
/// neighbours and towards the host alike. One chain per port, reached through a verdict map; a
/// guest port that has no chain (yet) has everything it sends dropped: deny by default.
/// </summary>
public sealed class AntiSpoofRules(string table, IProcessRunner runner)
{
    /// <summary>The table, the port map and the base chain that sends each port to its own chain (idempotent).</summary>
    private string TableScript => $$"""
        add table bridge {{table}}
        add map bridge {{table}} ports { type ifname : verdict; }
        add chain bridge {{table}} prerouting { type filter hook prerouting priority -300; policy accept; }
        flush chain bridge {{table}} prerouting
        add rule bridge {{table}} prerouting iifname vmap @ports
        add rule bridge {{table}} prerouting iifname "{{PortName.Prefix}}*" counter drop
        """;

    /// <summary>Creates the table, map and base chain if missing (idempotent).</summary>
    public Task EnsureTableAsync(CancellationToken cancellationToken = default) => ApplyAsync(TableScript, cancellationToken);

    /// <summary>
    /// Installs (or replaces) the rules of one guest port: one atomic nft batch, table included.
    /// <paramref name="uploadMbit"/> caps what the guest sends (an nft policer: this kernel has no tc
    /// classifiers or police actions, and every frame from the guest passes this chain anyway).
    /// </summary>
    public async Task ApplyAsync(string port, string mac, string ipv4, string? ipv6, int? uploadMbit = null, CancellationToken cancellationToken = default)
    {
        var chain = Chain(port);
        var v6 = ipv6 is null ? "fe80::/10" : $"{{ fe80::/10, {ipv6} }}";
        var police = uploadMbit is { } mbit
            ? FormattableString.Invariant($"add rule bridge {table} {chain} limit rate over {(long)mbit * 125} kbytes/second burst {Math.Max(32_000L, (long)mbit * 1_250)} bytes counter drop")
            : "";
        var script = TableScript + $$"""

            add chain bridge {{table}} {{chain}}
            flush chain bridge {{table}} {{chain}}
            add rule bridge {{table}} {{chain}} ether saddr != {{mac}} counter drop
            add rule bridge {{table}} {{chain}} ether type arp arp saddr ether != {{mac}} counter drop
            add rule bridge {{table}} {{chain}} ether type arp arp saddr ip != {{ipv4}} counter drop
            add rule bridge {{table}} {{chain}} ether type ip ip saddr != {{ipv4}} counter drop
            add rule bridge {{table}} {{chain}} ether type ip6 ip6 saddr != {{v6}} counter drop
            {{police}}
            add rule bridge {{table}} {{chain}} accept
            add element bridge {{table}} ports { "{{port}}" : jump {{chain}} }
            """;
        await ApplyAsync(script, cancellationToken);
    }

    /// <summary>Removes a port's rules (idempotent): one batch that first makes sure both exist, so it never fails half-way.</summary>
    public async Task RemoveAsync(string port, CancellationToken cancellationToken = default)
    {
        var chain = Chain(port);
        var script = $$"""
            add table bridge {{table}}
            add map bridge {{table}} ports { type ifname : verdict; }
            add chain bridge {{table}} {{chain}}
            add element bridge {{table}} ports { "{{port}}" : jump {{chain}} }
            delete element bridge {{table}} ports { "{{port}}" }
            delete chain bridge {{table}} {{chain}}
            """;
        await ApplyAsync(script, cancellationToken);
    }

    /// <summary>Whether a port currently has rules.</summary>
    public async Task<bool> HasRulesAsync(string port, CancellationToken cancellationToken = default)
    {
        var r = await runner.RunAsync("nft", ["list", "chain", "bridge", table, Chain(port)], null, cancellationToken);
        return r.Succeeded;
    }

    /// <summary>Removes the whole table (tests, node removal).</summary>
    public async Task DeleteTableAsync(CancellationToken cancellationToken = default)
        => await runner.RunAsync("nft", ["delete", "table", "bridge", table], null, cancellationToken);

    private static string Chain(string port) => "g_" + port;

    private async Task ApplyAsync(string script, CancellationToken cancellationToken)
        => (await runner.RunAsync("nft", ["-f", "-"], new ProcessRunOptions(StdIn: script + "\n"), cancellationToken)).ThrowIfFailed();
}
