using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using static Panel.Hypervisor.Processes.PosixSpawn;

namespace Panel.Hypervisor.Consoles;

/// <summary>
/// A program running on a new pseudo-terminal, started with <c>posix_spawn</c> (never
/// <c>fork</c>: the .NET runtime is multi-threaded). The child gets its own session with the
/// pty as controlling terminal; the engine keeps the master side as a stream.
/// </summary>
public sealed partial class PtyProcess : IConsoleSession
{
    private const int ORdWr = 0x2, ONoCtty = 0x100, OCloExec = 0x80000;
    private const short PosixSpawnSetSigDef = 0x04, PosixSpawnSetSigMask = 0x08, PosixSpawnSetSid = 0x80;
    private const int Sigterm = 15, Sigkill = 9, Sigpipe = 13;
    private const int Wnohang = 1;
    private const ulong Tiocswinsz = 0x5414;

    private readonly int masterFd;
    private readonly int pid;
    private readonly TaskCompletionSource exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int disposed;

    private PtyProcess(int masterFd, int pid, Stream stream)
    {
        this.masterFd = masterFd;
        this.pid = pid;
        Stream = stream;
        _ = Task.Run(WatchAsync);
    }

    /// <inheritdoc />
    public Stream Stream { get; }

    /// <inheritdoc />
    public Task Completion => exited.Task;

    /// <summary>The child's pid.</summary>
    public int Pid => pid;

    /// <summary>Starts <paramref name="program"/> (searched on PATH) with <paramref name="arguments"/> on a new pty.</summary>
    public static PtyProcess Start(string program, IReadOnlyList<string> arguments, int columns = 80, int rows = 24, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        ArgumentNullException.ThrowIfNull(arguments);
        var master = posix_openpt(ORdWr | ONoCtty | OCloExec);
        if (master < 0)
        {
            throw Error("posix_openpt");
        }

        var actions = Marshal.AllocHGlobal(512);
        var attr = Marshal.AllocHGlobal(512);
        var sigset = Marshal.AllocHGlobal(128);
        try
        {
            if (grantpt(master) != 0 || unlockpt(master) != 0)
            {
                throw Error("grantpt/unlockpt");
            }

            var name = new byte[128];
            if (ptsname_r(master, name, name.Length) != 0)
            {
                throw Error("ptsname_r");
            }

            var slave = Encoding.ASCII.GetString(name, 0, Array.IndexOf(name, (byte)0));
            SetSize(master, columns, rows);

            Check(posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
            // In the child, after setsid(): opening the slave makes it the controlling terminal.
            Check(posix_spawn_file_actions_addopen(actions, 0, slave, ORdWr, 0), "addopen");
            Check(posix_spawn_file_actions_adddup2(actions, 0, 1), "adddup2");
            Check(posix_spawn_file_actions_adddup2(actions, 0, 2), "adddup2");

            Check(posix_spawnattr_init(attr), "posix_spawnattr_init");
            Check(posix_spawnattr_setflags(attr, PosixSpawnSetSid | PosixSpawnSetSigMask | PosixSpawnSetSigDef), "setflags");
            Marshal.Copy(new byte[128], 0, sigset, 128);
            Check(posix_spawnattr_setsigmask(attr, sigset), "setsigmask");
            // The runtime ignores SIGPIPE; the child must not inherit that.
            Marshal.WriteByte(sigset, (Sigpipe - 1) / 8, (byte)(1 << ((Sigpipe - 1) % 8)));
            Check(posix_spawnattr_setsigdefault(attr, sigset), "setsigdefault");

            var env = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                ["TERM"] = "xterm-256color",
                ["LANG"] = "C.UTF-8",
            };
            foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            {
                env[k] = v;
            }

            string?[] argv = [program, .. arguments, null];
            string?[] envp = [.. env.Select(kv => $"{kv.Key}={kv.Value}"), null];
            var rc = posix_spawnp(out var child, program, actions, attr, argv, envp);
            if (rc != 0)
            {
                throw new EngineException(EngineErrorCode.HostFailure, $"cannot start {program} on a pty: {new Win32Exception(rc).Message}");
            }

            var handle = new SafeFileHandle(master, ownsHandle: false);
            var stream = new FileStream(handle, FileAccess.ReadWrite, bufferSize: 0, isAsync: false);
            return new PtyProcess(master, child, stream);
        }
        catch
        {
            _ = close(master);
            throw;
        }
        finally
        {
            _ = posix_spawn_file_actions_destroy(actions);
            _ = posix_spawnattr_destroy(attr);
            Marshal.FreeHGlobal(actions);
            Marshal.FreeHGlobal(attr);
            Marshal.FreeHGlobal(sigset);
        }
    }

    /// <inheritdoc />
    public void Resize(int columns, int rows)
    {
        if (Volatile.Read(ref disposed) == 0)
        {
            SetSize(masterFd, columns, rows);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        _ = kill(pid, Sigterm);
        if (await Task.WhenAny(exited.Task, Task.Delay(2000)) != exited.Task)
        {
            _ = kill(pid, Sigkill);
            await Task.WhenAny(exited.Task, Task.Delay(2000));
        }

        await Stream.DisposeAsync();
        _ = close(masterFd);
    }

    private async Task WatchAsync()
    {
        // Reap the child (no zombie) and signal completion.
        while (true)
        {
            var r = waitpid(pid, out _, Wnohang);
            if (r == pid || r < 0)
            {
                exited.TrySetResult();
                return;
            }

            await Task.Delay(100);
        }
    }

    private static void SetSize(int fd, int columns, int rows)
    {
        var ws = new WinSize { Rows = (ushort)Math.Clamp(rows, 1, 1000), Columns = (ushort)Math.Clamp(columns, 1, 1000) };
        _ = ioctl(fd, Tiocswinsz, ref ws);
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"{what} failed: {new Win32Exception(rc).Message}");
        }
    }

    private static EngineException Error(string what)
        => new(EngineErrorCode.HostFailure, $"{what} failed: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");

    [StructLayout(LayoutKind.Sequential)]
    private struct WinSize
    {
        public ushort Rows;
        public ushort Columns;
        public ushort XPixels;
        public ushort YPixels;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int posix_openpt(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int grantpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int unlockpt(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ptsname_r(int fd, [Out] byte[] buf, nint buflen);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, ref WinSize ws);
}
