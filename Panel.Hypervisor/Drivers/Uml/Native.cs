using System.ComponentModel;
using System.Runtime.InteropServices;
using static Panel.Hypervisor.Processes.PosixSpawn;

namespace Panel.Hypervisor.Drivers.Uml;

/// <summary>
/// The few libc calls the UML driver needs: starting a detached program with its output in a log
/// (<c>posix_spawn</c>, never <c>fork</c>: the runtime is multi-threaded) and file owners and
/// allocated sizes (<c>lstat</c>/<c>fstat</c>; UML exists for x86-64 only, whose layout is used).
/// </summary>
internal static partial class Native
{
    private const int ORdOnly = 0, OWrOnly = 0x1, OCreat = 0x40, OAppend = 0x400;
    private const short PosixSpawnSetSigDef = 0x04, PosixSpawnSetSigMask = 0x08;
    private const int Sigpipe = 13, Wnohang = 1;

    /// <summary>Owner and allocation of a file.</summary>
    public readonly record struct FileStat(uint Mode, uint Uid, long Size, long AllocatedBytes)
    {
        /// <summary>Whether it is a symbolic link (lstat).</summary>
        public bool IsSymlink => (Mode & 0xF000) == 0xA000;

        /// <summary>Whether it is a Unix socket.</summary>
        public bool IsSocket => (Mode & 0xF000) == 0xC000;
    }

    /// <summary>lstat(2) of a path, or null when it does not exist.</summary>
    public static FileStat? LStat(string path)
    {
        var buf = new byte[256];
        return lstat(path, buf) == 0 ? Parse(buf) : null;
    }

    /// <summary>fstat(2) of an open descriptor.</summary>
    public static FileStat? FStat(int fd)
    {
        var buf = new byte[256];
        return fstat(fd, buf) == 0 ? Parse(buf) : null;
    }

    /// <summary>
    /// Starts <paramref name="program"/> with stdin from /dev/null and stdout and stderr appended
    /// to <paramref name="log"/>, waits for it to exit (a daemonizing starter such as
    /// <c>setsid -f</c>) and returns its exit status.
    /// </summary>
    public static async Task<int> RunDetachedStarterAsync(string program, IReadOnlyList<string> arguments, string log, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var actions = Marshal.AllocHGlobal(512);
        var attr = Marshal.AllocHGlobal(512);
        var sigset = Marshal.AllocHGlobal(128);
        int child;
        try
        {
            Check(posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
            Check(posix_spawn_file_actions_addopen(actions, 0, "/dev/null", ORdOnly, 0), "addopen");
            Check(posix_spawn_file_actions_addopen(actions, 1, log, OWrOnly | OCreat | OAppend, Convert.ToUInt32("600", 8)), "addopen");
            Check(posix_spawn_file_actions_adddup2(actions, 1, 2), "adddup2");
            Check(posix_spawnattr_init(attr), "posix_spawnattr_init");
            Check(posix_spawnattr_setflags(attr, PosixSpawnSetSigMask | PosixSpawnSetSigDef), "setflags");
            Marshal.Copy(new byte[128], 0, sigset, 128);
            Check(posix_spawnattr_setsigmask(attr, sigset), "setsigmask");
            Marshal.WriteByte(sigset, (Sigpipe - 1) / 8, (byte)(1 << ((Sigpipe - 1) % 8))); // the runtime ignores SIGPIPE; children must not
            Check(posix_spawnattr_setsigdefault(attr, sigset), "setsigdefault");
            string?[] argv = [program, .. arguments, null];
            string?[] envp = [.. environment.Select(kv => $"{kv.Key}={kv.Value}"), null];
            var rc = posix_spawnp(out child, program, actions, attr, argv, envp);
            if (rc != 0)
            {
                throw new EngineException(EngineErrorCode.HostFailure, $"cannot start {program}: {new Win32Exception(rc).Message}");
            }
        }
        finally
        {
            _ = posix_spawn_file_actions_destroy(actions);
            _ = posix_spawnattr_destroy(attr);
            Marshal.FreeHGlobal(actions);
            Marshal.FreeHGlobal(attr);
            Marshal.FreeHGlobal(sigset);
        }

        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var r = waitpid(child, out var status, Wnohang);
            if (r == child)
            {
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
            }

            if (r < 0)
            {
                return 0; // already reaped by the runtime's SIGCHLD handling
            }

            if (DateTime.UtcNow > deadline)
            {
                _ = kill(child, 9);
                throw new EngineException(EngineErrorCode.Timeout, $"{program} did not return within {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>Sends a signal.</summary>
    public static bool Kill(int pid, int signal) => kill(pid, signal) == 0;

    private static FileStat Parse(byte[] b)
        // struct stat on x86-64: st_mode at 24, st_uid at 28, st_size at 48, st_blocks (512-byte units) at 64.
        => new(BitConverter.ToUInt32(b, 24), BitConverter.ToUInt32(b, 28), BitConverter.ToInt64(b, 48), BitConverter.ToInt64(b, 64) * 512);

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"{what} failed: {new Win32Exception(rc).Message}");
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lstat(string path, [Out] byte[] buf);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fstat(int fd, [Out] byte[] buf);
}
