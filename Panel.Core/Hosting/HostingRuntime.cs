using System.Globalization;
using System.Text;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Hosting;

/// <summary>
/// The web runtime inside a tenant's container, driven through the engine's exec (never by writing into
/// the guest's disk from the host, so nothing the tenant planted there - links included - can make the
/// host write outside the container). Each site has a folder <c>/srv/sites/ID</c> and its own
/// <c>busybox httpd -p PORT -h /srv/sites/ID</c>; <c>/srv/web/start</c> (re)starts them all and an
/// inittab line runs it when the container boots. The edge sends a site's requests to the container's
/// address and the site's port.
/// </summary>
public sealed class HostingRuntime(DriverRegistry drivers, PanelOptions options)
{
    /// <summary>Where the sites live inside the container.</summary>
    public const string SitesRoot = "/srv/sites";

    private const string StartScript = "/srv/web/start";

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

    /// <summary>Writes the start script for these sites (id, port), makes sure boot runs it, and (re)starts the web servers.</summary>
    public async Task SyncAsync(string engineId, IReadOnlyList<(int SiteId, int Port)> sites, CancellationToken cancellationToken = default)
    {
        var script = new StringBuilder("#!/bin/sh\n# Written by VpsPanel: one web server per site.\nkillall httpd 2>/dev/null\n")
            .Append("n=0; while pidof httpd >/dev/null && [ $n -lt 100 ]; do usleep 20000; n=$((n+1)); done\n");
        foreach (var (siteId, port) in sites)
        {
            var folder = SiteFolder(siteId);
            script.Append(CultureInfo.InvariantCulture, $"mkdir -p {folder} && httpd -p {port} -h {folder}\n");
        }

        // httpd forks away before it listens: wait (up to 2 s each) until every port listens, so the edge's next request finds it.
        foreach (var (_, port) in sites)
        {
            script.Append(CultureInfo.InvariantCulture, $"n=0; while ! grep -qE ':{port:X4} [0:]+:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null && [ $n -lt 100 ]; do usleep 20000; n=$((n+1)); done\n");
        }

        script.Append("exit 0\n");
        const string install = $"""
            set -e
            mkdir -p /srv/web {SitesRoot}
            cat > {StartScript}.new
            chmod 755 {StartScript}.new
            mv -f {StartScript}.new {StartScript}
            grep -q '{StartScript}' /etc/inittab || echo '::once:{StartScript}' >> /etc/inittab
            {StartScript}
            """;
        await RunAsync(engineId, ["sh", "-c", install], script.ToString(), cancellationToken);
    }

    /// <summary>
    /// Replaces a site's content with a validated tar (see <see cref="SiteArchive"/>), inside the container.
    /// The folder is made anew, so run <see cref="SyncAsync"/> afterwards (its web server restarts in it).
    /// </summary>
    public async Task DeployAsync(string engineId, int siteId, byte[] tar, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tar);
        var folder = SiteFolder(siteId);
        var unpack = $"""
            set -e
            rm -rf {folder}
            mkdir -p {folder}
            base64 -d | tar -x -C {folder}
            """;
        await RunAsync(engineId, ["sh", "-c", unpack], Convert.ToBase64String(tar, Base64FormattingOptions.InsertLineBreaks), cancellationToken);
    }

    /// <summary>Removes a site's folder from the container.</summary>
    public Task RemoveAsync(string engineId, int siteId, CancellationToken cancellationToken = default)
        => RunAsync(engineId, ["rm", "-rf", SiteFolder(siteId)], null, cancellationToken);

    private async Task RunAsync(string engineId, IReadOnlyList<string> command, string? stdin, CancellationToken cancellationToken)
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
    }
}
