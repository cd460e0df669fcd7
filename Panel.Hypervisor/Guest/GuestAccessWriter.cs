using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Guest;

/// <summary>Writes host name, root password (SHA-512 crypt) and SSH keys into a stopped guest's root filesystem.</summary>
public sealed class GuestAccessWriter(IProcessRunner runner)
{
    /// <summary>Writes <c>/etc/hostname</c> and a matching <c>/etc/hosts</c> line.</summary>
    public static void WriteHostname(GuestFiles files, string hostname)
    {
        ArgumentNullException.ThrowIfNull(files);
        files.Write("/etc/hostname", hostname + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var shortName = hostname.Split('.')[0];
        var hosts = files.Read("/etc/hosts") ?? "127.0.0.1 localhost\n";
        var kept = hosts.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("127.0.1.1", StringComparison.Ordinal));
        files.Write("/etc/hosts", string.Join('\n', kept) + $"\n127.0.1.1 {hostname}{(shortName != hostname ? " " + shortName : "")}\n",
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    /// <summary>Sets root's password hash in <c>/etc/shadow</c> (or locks it when null) and writes <c>authorized_keys</c>.</summary>
    public async Task WriteAccessAsync(GuestFiles files, GuestAccess access, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(access);
        var hash = await HashOfAsync(access, cancellationToken);
        var shadow = files.Read("/etc/shadow") ?? "";
        var lines = shadow.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        var i = lines.FindIndex(l => l.StartsWith("root:", StringComparison.Ordinal));
        var days = (int)(DateTime.UtcNow - DateTime.UnixEpoch).TotalDays;
        var rootLine = FormattableString.Invariant($"root:{hash}:{days}:0:99999:7:::");
        if (i >= 0)
        {
            var f = lines[i].Split(':');
            f[1] = hash;
            if (f.Length > 2)
            {
                f[2] = days.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            lines[i] = string.Join(':', f);
        }
        else
        {
            lines.Insert(0, rootLine);
        }

        files.Write("/etc/shadow", string.Join('\n', lines) + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var keys = access.SshKeys.Select(k => SshPublicKey.TryParse(k, out var n, out _) ? n : throw EngineException.Invalid("Access.SshKeys", "a key does not parse"));
        files.Write("/root/.ssh/authorized_keys", string.Concat(keys.Select(k => k + "\n")), UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>The hash to store for <paramref name="access"/>: the given hash, a new hash of the given password, or <c>*</c> (no password).</summary>
    public async Task<string> HashOfAsync(GuestAccess access, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(access);
        return access.RootPasswordHash ?? (access.RootPassword is null ? "*" : await HashAsync(access.RootPassword, cancellationToken));
    }

    /// <summary>A SHA-512 crypt hash (<c>$6$…</c>) made by openssl; the password goes through stdin, never the command line.</summary>
    public async Task<string> HashAsync(string password, CancellationToken cancellationToken)
    {
        var r = (await runner.RunAsync("openssl", ["passwd", "-6", "-stdin"], new ProcessRunOptions(StdIn: password + "\n"), cancellationToken)).ThrowIfFailed();
        var hash = r.StdOut.Trim();
        if (!hash.StartsWith("$6$", StringComparison.Ordinal))
        {
            throw new EngineException(EngineErrorCode.HostFailure, "openssl did not return a SHA-512 crypt hash");
        }

        return hash;
    }
}
