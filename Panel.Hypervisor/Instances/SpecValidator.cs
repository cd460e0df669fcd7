using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Panel.Hypervisor.Guest;
using Panel.Hypervisor.Network;

namespace Panel.Hypervisor.Instances;

/// <summary>Checks every value of a spec before anything touches the host. Throws <see cref="EngineException"/> naming the field.</summary>
public static partial class SpecValidator
{
    /// <summary>Bounds of <see cref="InstanceLimits"/>.</summary>
    public const long MinMemory = 32L << 20, MaxMemory = 1L << 40, MinDisk = 64L << 20, MaxDisk = 16L << 40;

    /// <summary>Validates a whole spec against the node's guest network.</summary>
    public static void Validate(InstanceSpec spec, GuestNetwork network)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(network);
        ValidateId(spec.Id);
        ValidateHostname(spec.Hostname);
        if (string.IsNullOrWhiteSpace(spec.Image) || !ImageName().IsMatch(spec.Image))
        {
            throw EngineException.Invalid("Image", "an image name has lower-case letters, digits, dots and dashes");
        }

        ValidateLimits(spec.Limits);
        ValidateNetwork(spec.Network, network);
        ValidateAccess(spec.Access);
    }

    /// <summary>An id: 2-32 characters, lower-case letters, digits and dashes, starting with a letter, not ending with a dash.</summary>
    public static void ValidateId(string? id)
    {
        if (id is null || !InstanceId().IsMatch(id))
        {
            throw EngineException.Invalid("Id", "use 2-32 lower-case letters, digits and dashes, starting with a letter");
        }
    }

    /// <summary>A host name per RFC 1123: dot-separated labels of letters, digits and dashes, 63 characters in all.</summary>
    public static void ValidateHostname(string? hostname)
    {
        // 63: the kernel's limit for a host name (UTS nodename is 64 bytes with its terminator).
        if (string.IsNullOrEmpty(hostname) || hostname.Length > 63)
        {
            throw EngineException.Invalid("Hostname", "a host name has 1-63 characters");
        }

        foreach (var label in hostname.Split('.'))
        {
            if (!HostLabel().IsMatch(label))
            {
                throw EngineException.Invalid("Hostname", $"'{label}' is not a valid host name label (letters, digits and dashes, 1-63, not starting or ending with a dash)");
            }
        }
    }

    /// <summary>Checks each limit against its range.</summary>
    public static void ValidateLimits(InstanceLimits? limits)
    {
        if (limits is null)
        {
            throw EngineException.Invalid("Limits", "limits are required");
        }

        Range("Limits.Vcpus", limits.Vcpus, 1, 256);
        Range("Limits.MemoryBytes", limits.MemoryBytes, MinMemory, MaxMemory);
        Range("Limits.DiskBytes", limits.DiskBytes, MinDisk, MaxDisk);
        Range("Limits.MaxProcesses", limits.MaxProcesses, 16, 4_194_304);
        Range("Limits.CpuWeight", limits.CpuWeight, 1, 10_000);
        if (limits.PortSpeedMbit is { } speed)
        {
            Range("Limits.PortSpeedMbit", speed, 1, 100_000);
        }
    }

    /// <summary>A snapshot name: 1-64 letters, digits, dash, underscore and dot, not starting with a dot.</summary>
    public static void ValidateSnapshotName(string? name)
    {
        if (name is null || !SnapshotName().IsMatch(name))
        {
            throw EngineException.Invalid("Snapshot", "use 1-64 letters, digits, dashes, underscores and dots, not starting with a dot");
        }
    }

    /// <summary>Checks MAC and addresses against the node's guest network.</summary>
    public static void ValidateNetwork(NetworkSpec? net, GuestNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (net is null)
        {
            throw EngineException.Invalid("Network", "a network spec is required");
        }

        if (!MacAddress().IsMatch(net.MacAddress ?? ""))
        {
            throw EngineException.Invalid("Network.MacAddress", "write a MAC as six hex pairs separated by colons");
        }

        var first = Convert.ToByte(net.MacAddress![..2], 16);
        if ((first & 1) != 0 || (first & 2) == 0)
        {
            throw EngineException.Invalid("Network.MacAddress", "a guest MAC must be unicast and locally administered (second hex digit 2, 6, A or E)");
        }

        if (!IPAddress.TryParse(net.IPv4, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork)
        {
            throw EngineException.Invalid("Network.IPv4", $"'{net.IPv4}' is not an IPv4 address");
        }

        if (!network.IsAssignable(ip))
        {
            throw EngineException.Invalid("Network.IPv4", $"{ip} is outside this node's guest network {network.Subnet} or is its network, broadcast or gateway address");
        }

        if (net.IPv6 is not null)
        {
            if (!IPAddress.TryParse(net.IPv6, out var ip6) || ip6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                throw EngineException.Invalid("Network.IPv6", $"'{net.IPv6}' is not an IPv6 address");
            }

            if (!network.IsAssignable6(ip6))
            {
                throw EngineException.Invalid("Network.IPv6", $"{ip6} is outside this node's IPv6 prefix {network.Subnet6?.ToString() ?? "(none configured)"}");
            }
        }
    }

    /// <summary>Checks the password length and that every SSH key parses.</summary>
    public static void ValidateAccess(GuestAccess? access)
    {
        if (access is null)
        {
            throw EngineException.Invalid("Access", "access is required (use GuestAccess.None)");
        }

        if (access.RootPassword is { } pw && (pw.Length < 8 || pw.Length > 256 || pw.Any(char.IsControl)))
        {
            throw EngineException.Invalid("Access.RootPassword", "a root password has 8-256 printable characters");
        }

        if (access.RootPasswordHash is { } hash)
        {
            if (access.RootPassword is not null)
            {
                throw EngineException.Invalid("Access.RootPasswordHash", "give a root password or its hash, not both");
            }

            if (!Sha512Crypt().IsMatch(hash))
            {
                throw EngineException.Invalid("Access.RootPasswordHash", "not a SHA-512 crypt hash ($6$salt$hash)");
            }
        }

        for (var i = 0; i < access.SshKeys.Count; i++)
        {
            if (!SshPublicKey.TryParse(access.SshKeys[i], out _, out var why))
            {
                throw EngineException.Invalid($"Access.SshKeys[{i}]", why!);
            }
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\$6\$(rounds=[0-9]{4,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$")]
    private static partial System.Text.RegularExpressions.Regex Sha512Crypt();

    private static void Range(string field, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            throw EngineException.Invalid(field, FormattableString.Invariant($"{value} is outside {min}-{max}"));
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$")]
    private static partial Regex InstanceId();

    [GeneratedRegex("^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")]
    private static partial Regex HostLabel();

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{0,63}$")]
    private static partial Regex ImageName();

    [GeneratedRegex("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")]
    private static partial Regex MacAddress();

    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex SnapshotName();
}
