using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Panel.Core.Domain.Hosting;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Hosting;

/// <summary>A site as the runtime serves it: its folder's id, its port, and how it is served.</summary>
/// <param name="SiteId">The site (its folder is <c>/srv/sites/ID</c>).</param>
/// <param name="Port">The port its server listens on.</param>
/// <param name="Kind">Static (busybox httpd) or dynamic (the tenant's start command).</param>
/// <param name="Command">A dynamic site's start command (already checked by <see cref="SiteCommand"/>).</param>
public sealed record RuntimeSite(int SiteId, int Port, SiteKind Kind = SiteKind.Static, string? Command = null);

/// <summary>
/// The web runtime inside a tenant's container (the debian-12 image), driven through the engine's exec (never
/// by writing into the guest's disk from the host, so nothing the tenant planted there - links included - can
/// make the host write outside the container). Each site has a folder <c>/srv/sites/ID</c>, owned by the
/// unprivileged user <c>web</c>, and its own server in a session of its own, run as <c>web</c> by a root
/// supervisor loop that restarts it when it exits: <c>busybox httpd -f -p PORT -h /srv/sites/ID</c> for a static
/// site, the tenant's start command (<c>sh -c</c> in the site folder, <c>PORT</c> set) for a dynamic one, its
/// output in <c>/srv/web/logs/ID.log</c>. <c>/srv/web/start</c> (re)starts them all and an inittab line runs it
/// when the container boots. The container's sshd serves SFTP only, to <c>web</c> only, chrooted to
/// <c>/srv/sites</c>, with the tenant's keys and (optionally) password. The edge sends a site's requests to the
/// container's address and the site's port; the SFTP gateway sends a space's port to the container's port 22.
/// </summary>
public sealed partial class HostingRuntime(DriverRegistry drivers, PanelOptions options)
{
    /// <summary>Where the sites live inside the container (also the SFTP chroot: the tenant sees one folder per site).</summary>
    public const string SitesRoot = "/srv/sites";

    /// <summary>The unprivileged user that owns the sites' files, runs their servers and logs in by SFTP.</summary>
    public const string WebUser = "web";

    private const string StartScript = "/srv/web/start";
    private const string LogFolder = "/srv/web/logs";

    /// <summary>The folder of a site inside its container.</summary>
    public static string SiteFolder(int siteId) => $"{SitesRoot}/{siteId.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Refuses when the container runs on another node than this process's (a relay comes later).</summary>
    public void RequireLocal(string? nodeName)
    {
        if (!options.Jobs.RunServer || !string.Equals(nodeName, options.Jobs.NodeName, StringComparison.Ordinal))
        {
            throw new PanelRefusedException($"The websites' server runs on node {nodeName ?? "(none)"}, which this panel cannot reach directly yet.");
        }
    }

    /// <summary>
    /// Writes the start script for these sites, makes sure boot runs it, and (re)starts every site's server.
    /// A dynamic site's command reaches the script base64-encoded and is only ever an argument of the <c>web</c>
    /// user's <c>sh -c</c>: root's shell never parses it.
    /// </summary>
    public async Task SyncAsync(string engineId, IReadOnlyList<RuntimeSite> sites, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sites);
        var script = new StringBuilder("""
            #!/bin/sh
            # Written by VpsPanel: one server per site, each in a session of its own under a supervisor loop.
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            mkdir -p /srv/web/logs
            # One start at a time (two at once would each start a server and lose track of one).
            exec 9>/srv/web/.lock
            flock 9
            # Stop every site's session: its supervisor (found by its marker argument) and what runs under it.
            sessions() { for p in $(pgrep -f 'vpspanel-site-[0-9]'); do ps -o sid= -p "$p"; done | sort -u; }
            # (pkill -s: a whole session; dash's own kill takes no "--" before a negative process group)
            for g in $(sessions); do [ "$g" -gt 1 ] && pkill -TERM -s "$g"; done
            n=0; while [ -n "$(sessions)" ] && [ $n -lt 20 ]; do sleep 0.05; n=$((n+1)); done
            for g in $(sessions); do [ "$g" -gt 1 ] && pkill -KILL -s "$g"; done
            n=0; while [ -n "$(sessions)" ] && [ $n -lt 100 ]; do sleep 0.02; n=$((n+1)); done
            # serve ID PORT FOLDER BASE64-COMMAND: the supervisor (root) runs the command as web, again 1 s after it exits.
            serve() {
              setsid sh -c '
                cmd="$(printf %s "$4" | base64 -d)"
                while :; do
                  [ "$(stat -c %s "$5" 2>/dev/null || echo 0)" -gt 1048576 ] && : > "$5"
                  echo "[$(date -u +%FT%TZ)] starting: $cmd"
                  (cd "$3" && exec setpriv --reuid=web --regid=web --init-groups env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$3" PORT="$2" sh -c "$cmd")
                  echo "[$(date -u +%FT%TZ)] exited with status $?; restarting in 1 s"
                  sleep 1
                done' "vpspanel-site-$1" "$1" "$2" "$3" "$4" "/srv/web/logs/$1.log" </dev/null >>"/srv/web/logs/$1.log" 2>&1 9>&- &
            }

            """);
        foreach (var site in sites)
        {
            var folder = SiteFolder(site.SiteId);
            var command = site.Kind == SiteKind.Dynamic
                ? SiteCommand.Check(site.Command)
                : $"exec /usr/local/sbin/httpd -f -p {site.Port.ToString(CultureInfo.InvariantCulture)} -h {folder}";
            var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(command));
            script.Append(CultureInfo.InvariantCulture, $"mkdir -p {folder} && chown -hR {WebUser}:{WebUser} {folder} && serve {site.SiteId} {site.Port} {folder} {encoded}\n");
        }

        // Wait (up to 2 s each) until every static site's port listens, so the edge's next request finds it.
        foreach (var site in sites.Where(s => s.Kind == SiteKind.Static))
        {
            script.Append(CultureInfo.InvariantCulture, $"n=0; while ! grep -qE ':{site.Port:X4} [0:]+:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null && [ $n -lt 100 ]; do sleep 0.02; n=$((n+1)); done\n");
        }

        script.Append("exit 0\n");
        const string install = $"""
            set -e
            mkdir -p /srv/web {SitesRoot}
            cat > {StartScript}.new
            chmod 755 {StartScript}.new
            mv -f {StartScript}.new {StartScript}
            grep -q '{StartScript}' /etc/inittab || echo 'vw:2345:once:{StartScript}' >> /etc/inittab
            {StartScript}
            """;
        await RunAsync(engineId, ["sh", "-c", install], script.ToString(), cancellationToken);
    }

    /// <summary>
    /// Makes the container's SFTP what the space says: the <c>web</c> user, sshd serving SFTP only to it (chrooted
    /// to <see cref="SitesRoot"/>, no shell, no forwarding), its authorized keys (each line restricted) and its
    /// password hash (null: no password). Idempotent; sshd reloads only when its config changed.
    /// </summary>
    public async Task SyncAccessAsync(string engineId, IReadOnlyList<string> publicKeys, string? passwordHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(publicKeys);
        if (passwordHash is not null && !HashShape().IsMatch(passwordHash))
        {
            throw new PanelRefusedException("The stored SFTP password is not a password hash; set the password again.");
        }

        var keys = new StringBuilder();
        foreach (var key in publicKeys)
        {
            if (key.Contains('\n', StringComparison.Ordinal) || key.Contains('\r', StringComparison.Ordinal))
            {
                throw new ArgumentException("an SSH key is one line", nameof(publicKeys));
            }

            keys.Append("restrict ").Append(key).Append('\n');
        }

        await RunAsync(engineId, ["sh", "-c", SetupScript], keys.ToString(), cancellationToken);
        await RunAsync(engineId, ["sh", "-c", passwordHash is null ? "usermod -p '*' web" : "chpasswd -e"],
            passwordHash is null ? null : $"{WebUser}:{passwordHash}\n", cancellationToken);
    }

    /// <summary>
    /// Sets the <c>web</c> user's password (given on stdin to <c>chpasswd</c>, never as an argument) and returns the
    /// hash the container stored, which the panel keeps instead of the password.
    /// </summary>
    public async Task<string> SetPasswordAsync(string engineId, string password, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(password);
        var output = await RunAsync(engineId, ["sh", "-c", "set -e; chpasswd; getent shadow web | cut -d: -f2"], $"{WebUser}:{password}\n", cancellationToken);
        var hash = output.Trim();
        return HashShape().IsMatch(hash) ? hash : throw new PanelRefusedException("The websites' server did not store the password; try again.");
    }

    /// <summary>The last bytes (up to 16 KiB) of a site's server log: starts, exits and what its server printed.</summary>
    public async Task<string> LogTailAsync(string engineId, int siteId, CancellationToken cancellationToken = default)
        => await RunAsync(engineId, ["sh", "-c", "[ -f \"$1\" ] && tail -c 16384 \"$1\" || true", "sh", $"{LogFolder}/{siteId.ToString(CultureInfo.InvariantCulture)}.log"], null, cancellationToken);

    /// <summary>
    /// Replaces a site's content with a validated tar (see <see cref="SiteArchive"/>), inside the container.
    /// The folder is made anew, so run <see cref="SyncAsync"/> afterwards (its server restarts in it, its files owned by <c>web</c>).
    /// </summary>
    public async Task DeployAsync(string engineId, int siteId, byte[] tar, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tar);
        var folder = SiteFolder(siteId);
        var unpack = $"""
            set -e
            rm -rf {folder}
            mkdir -p {folder}
            base64 -d | tar -x --no-same-owner -C {folder}
            """;
        await RunAsync(engineId, ["sh", "-c", unpack], Convert.ToBase64String(tar), cancellationToken);
    }

    /// <summary>
    /// What each site folder holds now: the sizes of its files (links not followed), whoever wrote them - an upload,
    /// SFTP, the site's own server. Keyed by site id; a site without a folder is absent.
    /// </summary>
    public async Task<IReadOnlyDictionary<int, long>> MeasureAsync(string engineId, CancellationToken cancellationToken = default)
    {
        const string script = """
            cd /srv/sites 2>/dev/null || exit 0
            for d in [0-9]*; do
              [ -d "$d" ] && [ ! -L "$d" ] || continue
              printf '%s ' "$d"
              find "$d" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }'
            done
            """;
        var output = await RunAsync(engineId, ["sh", "-c", script], null, cancellationToken);
        var sizes = new Dictionary<int, long>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var bytes))
            {
                sizes[id] = bytes;
            }
        }

        return sizes;
    }

    /// <summary>Removes a site's folder and log from the container.</summary>
    public async Task RemoveAsync(string engineId, int siteId, CancellationToken cancellationToken = default)
        => await RunAsync(engineId, ["rm", "-rf", SiteFolder(siteId), $"{LogFolder}/{siteId.ToString(CultureInfo.InvariantCulture)}.log"], null, cancellationToken);

    // The user, sshd's config (SFTP only, chrooted), the keys (stdin), and sshd itself (started, or reloaded on a change).
    private const string SetupScript = """
        set -e
        # A container that has just started may still be booting (init mounts /run, starts ssh): wait (up to 15 s) for its runlevel's rc to end.
        n=0
        while [ $n -lt 150 ]; do
          case "$(runlevel 2>/dev/null)" in *" "[2345]) pgrep -f '/etc/init\.d/r[c] ' >/dev/null || break ;; esac
          sleep 0.1; n=$((n+1))
        done
        [ -x /bin/busybox ] || { echo "this image has no busybox (the hosting runtime needs debian-12 with busybox-static)" >&2; exit 1; }
        mkdir -p /srv/web
        exec 9>/srv/web/.lock
        flock 9
        ln -sf /bin/busybox /usr/local/sbin/httpd
        id web >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin web
        mkdir -p /srv/sites /etc/ssh/vpspanel
        chown root:root /srv /srv/sites; chmod 755 /srv /srv/sites
        cat > /etc/ssh/vpspanel/authorized_keys.new.$$
        chmod 644 /etc/ssh/vpspanel/authorized_keys.new.$$
        mv -f /etc/ssh/vpspanel/authorized_keys.new.$$ /etc/ssh/vpspanel/authorized_keys
        cat > /etc/ssh/sshd_config.new.$$ <<'EOF'
        # Written by VpsPanel: this hosting container's SSH server is its SFTP, for the user web only.
        Port 22
        PermitRootLogin no
        AllowUsers web
        PubkeyAuthentication yes
        PasswordAuthentication yes
        PermitEmptyPasswords no
        KbdInteractiveAuthentication no
        UsePAM no
        AuthorizedKeysFile /etc/ssh/vpspanel/authorized_keys
        DisableForwarding yes
        PermitTunnel no
        PermitTTY no
        PermitUserRC no
        PrintMotd no
        MaxAuthTries 4
        LoginGraceTime 30
        Subsystem sftp internal-sftp
        Match User web
            ChrootDirectory /srv/sites
            ForceCommand internal-sftp -u 0022
        EOF
        mkdir -p /run/sshd; chmod 755 /run/sshd
        ssh-keygen -A >/dev/null
        /usr/sbin/sshd -t -f /etc/ssh/sshd_config.new.$$
        changed=1; cmp -s /etc/ssh/sshd_config.new.$$ /etc/ssh/sshd_config && changed=0
        mv -f /etc/ssh/sshd_config.new.$$ /etc/ssh/sshd_config
        pid="$(cat /run/sshd.pid 2>/dev/null || true)"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
          [ "$changed" = 0 ] || kill -HUP "$pid"
        else
          # init's own start of ssh may win the race at boot: then that one serves.
          /usr/sbin/sshd 9>&- || { sleep 0.5; kill -0 "$(cat /run/sshd.pid 2>/dev/null)" 2>/dev/null; }
        fi
        """;

    private async Task<string> RunAsync(string engineId, IReadOnlyList<string> command, string? stdin, CancellationToken cancellationToken)
    {
        ExecResult r;
        try
        {
            r = await drivers.Get("lxc").ExecAsync(new ExecOptions(engineId, command, TimeSpan.FromMinutes(2), stdin), cancellationToken);
        }
        catch (EngineException ex)
        {
            throw new PanelRefusedException($"The websites' server is not ready ({ex.Message}); try again in a moment.");
        }

        if (r.ExitCode != 0)
        {
            throw new PanelRefusedException($"The websites' server refused the change: {(r.StdErr.Length > 0 ? r.StdErr.Trim() : "exit code " + r.ExitCode.ToString(CultureInfo.InvariantCulture))}");
        }

        return r.StdOut;
    }

    [GeneratedRegex(@"^\$[0-9a-z]+\$[./A-Za-z0-9$=,-]+$")]
    private static partial Regex HashShape();
}

/// <summary>A dynamic site's start command: what the customer may give.</summary>
public static class SiteCommand
{
    /// <summary>The longest command kept.</summary>
    public const int MaxLength = 500;

    /// <summary>Trims and checks a start command (1-500 characters, one line, no control characters); refuses otherwise.</summary>
    public static string Check(string? command, string field = "Command")
    {
        var c = (command ?? "").Trim();
        if (c.Length is 0 or > MaxLength)
        {
            throw new PanelRefusedException($"Give the start command of the site's web server (1-{MaxLength} characters), e.g. sh start.sh.", field);
        }

        if (c.Any(char.IsControl))
        {
            throw new PanelRefusedException("The start command is one line without control characters.", field);
        }

        return c;
    }
}

/// <summary>An SFTP password: what the customer may set.</summary>
public static class SftpPassword
{
    /// <summary>Checks a new password (8-128 characters, no control characters); refuses otherwise without echoing it.</summary>
    public static string Check(string? password)
    {
        var p = password ?? "";
        if (p.Length is < 8 or > 128)
        {
            throw new PanelRefusedException("An SFTP password has 8-128 characters.", "Password");
        }

        if (p.Any(char.IsControl))
        {
            throw new PanelRefusedException("An SFTP password cannot contain control characters (such as line breaks).", "Password");
        }

        return p;
    }
}
