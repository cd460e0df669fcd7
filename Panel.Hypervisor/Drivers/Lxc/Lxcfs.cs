using Panel.Hypervisor.Processes;
using Panel.Hypervisor.Storage;

namespace Panel.Hypervisor.Drivers.Lxc;

/// <summary>
/// Keeps lxcfs mounted at <c>/var/lib/lxcfs</c> (the path Debian's LXC hook reads from). It runs as
/// its own daemon, so guests keep their masked <c>/proc</c> when the engine restarts.
/// </summary>
public sealed class Lxcfs(string directory, string pidFile, IProcessRunner runner)
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>Whether a working lxcfs is mounted.</summary>
    public bool IsMounted
    {
        get
        {
            if (!MountTable.IsMounted(directory))
            {
                return false;
            }

            try
            {
                return File.Exists(Path.Combine(directory, "proc", "meminfo"));
            }
            catch (IOException)
            {
                return false; // "transport endpoint is not connected": lxcfs died
            }
        }
    }

    /// <summary>Starts lxcfs unless it already serves; clears a dead mount first.</summary>
    public async Task EnsureAsync(CancellationToken cancellationToken = default)
    {
        if (IsMounted)
        {
            return;
        }

        await Gate.WaitAsync(cancellationToken);
        try
        {
            if (IsMounted)
            {
                return;
            }

            if (MountTable.IsMounted(directory))
            {
                await runner.RunAsync("umount", ["-l", directory], null, cancellationToken);
            }

            Directory.CreateDirectory(directory);
            Directory.CreateDirectory(Path.GetDirectoryName(pidFile)!);
            // lxcfs stays in the foreground; start-stop-daemon detaches it into its own session with
            // its output in a log file, so it neither holds our pipes nor dies with this process.
            (await runner.RunAsync("start-stop-daemon",
                ["--start", "--background", "--make-pidfile", "--pidfile", pidFile, "--output", Path.ChangeExtension(pidFile, ".log"),
                 "--exec", "/usr/bin/lxcfs", "--", "--foreground", directory],
                new ProcessRunOptions(TimeSpan.FromSeconds(20)), cancellationToken)).ThrowIfFailed();
            for (var i = 0; i < 50 && !IsMounted; i++)
            {
                await Task.Delay(50, cancellationToken);
            }

            if (!IsMounted)
            {
                throw new EngineException(EngineErrorCode.HostFailure, $"lxcfs did not mount {directory}");
            }
        }
        finally
        {
            Gate.Release();
        }
    }
}
