using System.Runtime.InteropServices;

namespace Panel.Hypervisor.Processes;

/// <summary>
/// libc's <c>posix_spawn</c> family and the calls around it, shared by the engine's native process
/// starters (<see cref="Consoles.PtyProcess"/>, the UML launcher): <c>posix_spawn</c>, never
/// <c>fork</c>, because the runtime is multi-threaded.
/// </summary>
internal static partial class PosixSpawn
{
    [LibraryImport("libc")]
    internal static partial int posix_spawn_file_actions_init(nint actions);

    [LibraryImport("libc")]
    internal static partial int posix_spawn_file_actions_destroy(nint actions);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int posix_spawn_file_actions_addopen(nint actions, int fd, string path, int oflag, uint mode);

    [LibraryImport("libc")]
    internal static partial int posix_spawn_file_actions_adddup2(nint actions, int fd, int newfd);

    [LibraryImport("libc")]
    internal static partial int posix_spawnattr_init(nint attr);

    [LibraryImport("libc")]
    internal static partial int posix_spawnattr_destroy(nint attr);

    [LibraryImport("libc")]
    internal static partial int posix_spawnattr_setflags(nint attr, short flags);

    [LibraryImport("libc")]
    internal static partial int posix_spawnattr_setsigmask(nint attr, nint sigset);

    [LibraryImport("libc")]
    internal static partial int posix_spawnattr_setsigdefault(nint attr, nint sigset);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int posix_spawnp(out int pid, string file, nint actions, nint attr, string?[] argv, string?[] envp);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int waitpid(int pid, out int status, int options);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int kill(int pid, int sig);
}
