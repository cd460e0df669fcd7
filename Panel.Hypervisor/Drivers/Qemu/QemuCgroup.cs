using System.Globalization;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Instances;

namespace Panel.Hypervisor.Drivers.Qemu;

/// <summary>
/// The cgroup of one guest's QEMU process (<c>vpsqemu.ID</c>), v1 controllers or v2: CPU quota and
/// weight, memory (the guest's RAM plus QEMU's own overhead) and a task limit on QEMU's threads.
/// The process enters it before <c>exec</c> (see <see cref="QemuDriver"/>), so every page QEMU
/// touches is charged to it from the start.
/// </summary>
public sealed class QemuCgroup(string id, CgroupMode mode)
{
    private const string Root = "/sys/fs/cgroup";

    /// <summary>The cgroup's name.</summary>
    public string Name { get; } = "vpsqemu." + id;

    /// <summary>QEMU's memory beyond the guest's RAM: its own code and heap, device buffers, and under TCG the translation cache (a booted 128 MiB busybox guest peaks at ~270 MiB RSS under TCG).</summary>
    public static long Overhead(bool tcg) => (tcg ? 128L + QemuCommandLine.TcgCacheMiB : 128L) << 20;

    /// <summary>The task limit: QEMU's threads (main loop, vCPUs, I/O workers), not the guest's processes.</summary>
    public static int TaskLimit(int vcpus) => 128 + vcpus;

    /// <summary>The folders (one per v1 controller, or the one v2 folder).</summary>
    public IReadOnlyList<string> Directories
        => mode == CgroupMode.V2
            ? [Path.Combine(Root, Name)]
            : [.. V1Controllers().Select(c => Path.Combine(Root, c, Name))];

    /// <summary>Creates the folders and writes the limits (idempotent; also applies new limits to a running guest).</summary>
    public void Apply(InstanceLimits limits, bool tcg)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var memory = (limits.MemoryBytes + Overhead(tcg)).ToString(CultureInfo.InvariantCulture);
        var quota = (limits.Vcpus * 100_000L).ToString(CultureInfo.InvariantCulture);
        var tasks = TaskLimit(limits.Vcpus).ToString(CultureInfo.InvariantCulture);
        if (mode == CgroupMode.V2)
        {
            TryWrite(Path.Combine(Root, "cgroup.subtree_control"), "+cpu +memory +pids");
            var dir = Directories[0];
            Directory.CreateDirectory(dir);
            Write(Path.Combine(dir, "memory.max"), memory);
            TryWrite(Path.Combine(dir, "memory.swap.max"), "0");
            Write(Path.Combine(dir, "cpu.max"), $"{quota} 100000");
            Write(Path.Combine(dir, "cpu.weight"), limits.CpuWeight.ToString(CultureInfo.InvariantCulture));
            Write(Path.Combine(dir, "pids.max"), tasks);
            return;
        }

        foreach (var dir in Directories)
        {
            Directory.CreateDirectory(dir);
        }

        var mem = Path.Combine(Root, "memory", Name);
        if (Directory.Exists(mem))
        {
            // memsw (RAM + swap) exists only with swap accounting; it must stay >= the RAM limit, so it is
            // lifted first and set last. Lowering below what QEMU uses already fails (EBUSY).
            TryWrite(Path.Combine(mem, "memory.memsw.limit_in_bytes"), "-1");
            Write(Path.Combine(mem, "memory.limit_in_bytes"), memory);
            TryWrite(Path.Combine(mem, "memory.memsw.limit_in_bytes"), memory);
        }

        var cpu = Path.Combine(Root, "cpu", Name);
        if (Directory.Exists(cpu))
        {
            Write(Path.Combine(cpu, "cpu.cfs_period_us"), "100000");
            Write(Path.Combine(cpu, "cpu.cfs_quota_us"), quota);
            Write(Path.Combine(cpu, "cpu.shares"), Math.Max(2, limits.CpuWeight * 1024 / 100).ToString(CultureInfo.InvariantCulture));
        }

        var pids = Path.Combine(Root, "pids", Name);
        if (Directory.Exists(pids))
        {
            Write(Path.Combine(pids, "pids.max"), tasks);
        }
    }

    /// <summary>
    /// Removes the folders, waiting up to a second for the last tasks of a guest that was just killed to
    /// be reaped (idempotent); throws when they are still busy then.
    /// </summary>
    public Task RemoveAsync(CancellationToken cancellationToken) => Cgroups.CgroupFolders.RemoveAsync(Directories, cancellationToken);

    /// <summary>Removes the folders once nothing runs in them (idempotent, best effort: see <see cref="RemoveAsync"/>).</summary>
    public void Remove()
    {
        foreach (var dir in Directories)
        {
            try
            {
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir); // cgroup folders are removed with rmdir, their files go with them
                }
            }
            catch (IOException)
            {
                // Still busy (a process is exiting); the next stop, start or delete tries again.
            }
        }
    }

    private static IEnumerable<string> V1Controllers()
    {
        // cpu and cpuacct are one hierarchy on most hosts (cpu,cpuacct with two links), separate on some.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in new[] { "memory", "cpu", "cpuacct", "pids" })
        {
            var path = Path.Combine(Root, c);
            if (!Directory.Exists(path))
            {
                continue;
            }

            var real = new DirectoryInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
            if (seen.Add(real))
            {
                yield return c;
            }
        }
    }

    private static void Write(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
        }
        catch (IOException ex)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"cannot write {value} to {path}: {ex.Message}", null, ex);
        }
    }

    private static void TryWrite(string path, string value)
    {
        try
        {
            if (File.Exists(path))
            {
                File.WriteAllText(path, value);
            }
        }
        catch (IOException)
        {
        }
    }
}
