using System.Globalization;
using System.Text;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Guest;

/// <summary>
/// What a kernel-based guest (UML, QEMU) is told about itself at every boot: host name, static
/// address on the node bridge, root password hash and SSH keys. The clear password never leaves
/// the engine: only its SHA-512 crypt hash goes on the disk.
/// </summary>
/// <param name="Hostname">The guest's host name.</param>
/// <param name="MacAddress">The MAC of its network port (the guest finds its NIC by it).</param>
/// <param name="IPv4Cidr">Its address with the bridge's prefix, e.g. <c>10.250.0.5/24</c>.</param>
/// <param name="Gateway4">The bridge's address.</param>
/// <param name="IPv6Cidr">Its IPv6 address with prefix, or null.</param>
/// <param name="Gateway6">The bridge's IPv6 address, or null.</param>
/// <param name="RootPasswordHash">A <c>$6$</c> crypt hash, or <c>*</c> for no password.</param>
/// <param name="SshKeys">Normalized OpenSSH public keys for root.</param>
public sealed record GuestConfig(
    string Hostname,
    string MacAddress,
    string IPv4Cidr,
    string Gateway4,
    string? IPv6Cidr,
    string? Gateway6,
    string RootPasswordHash,
    IReadOnlyList<string> SshKeys)
{
    /// <summary>The config of a validated spec on a node's guest network; hashes the root password.</summary>
    public static async Task<GuestConfig> ForAsync(InstanceSpec spec, GuestAccess access, GuestNetwork network, GuestAccessWriter hasher, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(access);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(hasher);
        var hash = await hasher.HashOfAsync(access, cancellationToken);
        var keys = access.SshKeys
            .Select(k => SshPublicKey.TryParse(k, out var normalized, out _) ? normalized : throw EngineException.Invalid("Access.SshKeys", "a key does not parse"))
            .ToList();
        var v6 = spec.Network.IPv6 is { } ip6 && network.Subnet6 is { } subnet6
            ? string.Create(CultureInfo.InvariantCulture, $"{ip6}/{subnet6.PrefixLength}")
            : null;
        return new GuestConfig(
            spec.Hostname,
            spec.Network.MacAddress,
            string.Create(CultureInfo.InvariantCulture, $"{spec.Network.IPv4}/{network.Subnet.PrefixLength}"),
            network.Gateway.ToString(),
            v6,
            v6 is null ? null : network.Gateway6?.ToString(),
            hash,
            keys);
    }

    /// <summary>
    /// Leave the root password and SSH keys inside the guest as they are (a restored or cloned disk keeps its own):
    /// the config disk then carries neither file, which <c>vpspanel-config</c> reads as "unchanged".
    /// </summary>
    public bool KeepGuestAccess { get; init; }

    /// <summary>The files of the config disk, by name (the layout <c>scripts/guest/vpspanel-config</c> reads).</summary>
    public IReadOnlyDictionary<string, string> Files()
    {
        var network = new StringBuilder()
            .Append("MAC=").Append(MacAddress).Append('\n')
            .Append("IPV4=").Append(IPv4Cidr).Append('\n')
            .Append("GATEWAY4=").Append(Gateway4).Append('\n')
            .Append("IPV6=").Append(IPv6Cidr).Append('\n')
            .Append("GATEWAY6=").Append(Gateway6).Append('\n');
        var files = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["version"] = "1\n",
            ["hostname"] = Hostname + "\n",
            ["network"] = network.ToString(),
        };
        if (!KeepGuestAccess)
        {
            files["root-password-hash"] = RootPasswordHash + "\n";
            files["authorized_keys"] = string.Concat(SshKeys.Select(k => k + "\n"));
        }

        return files;
    }
}

/// <summary>
/// Writes a <see cref="GuestConfig"/> as a small ext4 disk (label <c>vpsconfig</c>) with
/// <c>mkfs.ext4 -d</c> from a private staging folder: no mount, no loop device. Kernel-based
/// drivers attach it read-only as the guest's second disk; <c>scripts/guest/vpspanel-config</c>
/// applies it at boot. The disk is replaced atomically, so a crash leaves the old or the new one.
/// </summary>
public sealed class ConfigDisk(IProcessRunner runner)
{
    /// <summary>The filesystem label the guest looks for.</summary>
    public const string Label = "vpsconfig";

    /// <summary>The disk size: small, but above ext4's minimum.</summary>
    public const long SizeBytes = 4L << 20;

    /// <summary>Writes the config disk at <paramref name="path"/> (replacing any earlier one).</summary>
    public async Task WriteAsync(string path, GuestConfig config, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        var full = Path.GetFullPath(path);
        var staging = full + ".d";
        var temp = full + ".tmp";
        try
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }

            Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            foreach (var (name, content) in config.Files())
            {
                var file = Path.Combine(staging, name);
                await File.WriteAllTextAsync(file, content, cancellationToken);
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            File.Delete(temp);
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.SetLength(SizeBytes);
            }

            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            (await runner.RunAsync("mkfs.ext4", ["-q", "-F", "-m", "0", "-L", Label, "-d", staging, temp], null, cancellationToken)).ThrowIfFailed();
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }
}
