using System.Net;
using System.Net.Sockets;

namespace Panel.Hypervisor.Network;

/// <summary>A node's guest network: the bridge's own address (the guests' gateway) and the subnet guests take addresses from.</summary>
public sealed class GuestNetwork
{
    /// <summary>Builds it from a CIDR such as <c>10.250.0.1/24</c> (and an optional IPv6 one).</summary>
    public GuestNetwork(string bridgeCidr, string? bridgeCidr6 = null)
    {
        (Gateway, Subnet) = Parse(bridgeCidr, AddressFamily.InterNetwork);
        if (Subnet.PrefixLength > 30)
        {
            throw new EngineException(EngineErrorCode.InvalidSpec, $"the guest network {bridgeCidr} is too small", "BridgeCidr");
        }

        if (!string.IsNullOrWhiteSpace(bridgeCidr6))
        {
            var (gw6, net6) = Parse(bridgeCidr6, AddressFamily.InterNetworkV6);
            Gateway6 = gw6;
            Subnet6 = net6;
        }
    }

    /// <summary>The bridge address.</summary>
    public IPAddress Gateway { get; }

    /// <summary>The IPv4 subnet.</summary>
    public IPNetwork Subnet { get; }

    /// <summary>The IPv6 bridge address, if configured.</summary>
    public IPAddress? Gateway6 { get; }

    /// <summary>The IPv6 prefix, if configured.</summary>
    public IPNetwork? Subnet6 { get; }

    /// <summary>The bridge CIDR, e.g. <c>10.250.0.1/24</c>.</summary>
    public string GatewayCidr => $"{Gateway}/{Subnet.PrefixLength}";

    /// <summary>Whether a guest may use <paramref name="address"/>: inside the subnet, not its network, broadcast or gateway address.</summary>
    public bool IsAssignable(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!Subnet.Contains(address) || address.Equals(Gateway))
        {
            return false;
        }

        var host = ToUInt(address) & ~Mask(Subnet.PrefixLength);
        return host != 0 && host != ~Mask(Subnet.PrefixLength);
    }

    /// <summary>Whether a guest may use an IPv6 address.</summary>
    public bool IsAssignable6(IPAddress address)
        => Subnet6 is { } net && net.Contains(address) && !address.Equals(Gateway6) && !address.Equals(net.BaseAddress);

    private static (IPAddress Address, IPNetwork Network) Parse(string cidr, AddressFamily family)
    {
        var parts = cidr.Split('/');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var address) || address.AddressFamily != family
            || !int.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var prefix))
        {
            throw new EngineException(EngineErrorCode.InvalidSpec, $"'{cidr}' is not an address with a prefix length", "BridgeCidr");
        }

        return (address, new IPNetwork(Truncate(address, prefix), prefix));
    }

    private static IPAddress Truncate(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }

        return new IPAddress(bytes);
    }

    private static uint ToUInt(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    private static uint Mask(int prefix) => prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
}
