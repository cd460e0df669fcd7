using System.Globalization;
using Panel.Hypervisor.Cgroups;
using Panel.Hypervisor.Host;
using Panel.Hypervisor.Instances;

namespace Panel.Hypervisor.Drivers.Uml;

/// <summary>
/// The cgroup of one UML guest: every host process and thread of the guest kernel (one host
/// process per guest address space) lives in it from its first instruction, because the guest is
/// started through <c>cgexec</c>. v1: one group per controller (cpu, cpuacct, memory, pids,
/// freezer); v2: one group. Named <c>vpspanel-uml.ID</c> at the top of each hierarchy.
/// </summary>
internal sealed class UmlCgroup(string id, CgroupMode mode)
{
    /// <summary>Host tasks of the UML kernel itself beside the guest's processes (main thread and its I/O helpers), and the transient stub of a guest fork.</summary>
    public const int KernelTasks = 4;

    private const string Root = "/sys/fs/cgroup";
    private static readonly string[] V1Controllers = ["cpu", "cpuacct", "memory", "pids", "freezer"];

    /// <summary>The group's name in every hierarchy.</summary>
    public string Name { get; } = "vpspanel-uml." + id;

    /// <summary>The <c>cgexec -g</c> argument that starts a program inside the group.</summary>
    public string CgexecSpec => mode == CgroupMode.V2 ? $"cpu,memory,pids:{Name}" : $"{string.Join(',', V1Controllers)}:{Name}";

    private IEnumerable<string> Dirs => mode == CgroupMode.V2 ? [Path.Combine(Root, Name)] : V1Controllers.Select(c => Path.Combine(Root, c, Name));

    /// <summary>Whether any of the group's folders exists.</summary>
    public bool Exists => Dirs.Any(Directory.Exists);

    /// <summary>Host memory allowed beyond the guest's own RAM: the UML kernel's code, page tables and host caches of its disk files.</summary>
    public static long HostOverhead(long guestMemory) => Math.Max(64L << 20, guestMemory / 4);

    /// <summary>Creates the group (idempotent) and writes the limits.</summary>
    public void Create(InstanceLimits limits)
    {
        foreach (var dir in Dirs)
        {
            Directory.CreateDirectory(dir);
        }

        Apply(limits);
    }

    /// <summary>Writes the limits (also live, on a running guest).</summary>
    public void Apply(InstanceLimits limits)
    {
        // UML 6.1 runs the guest on one host CPU at a time (no SMP): a quota above one CPU is harmless.
        var quota = (limits.Vcpus * 100_000L).ToString(CultureInfo.InvariantCulture);
        var memory = (limits.MemoryBytes + HostOverhead(limits.MemoryBytes)).ToString(CultureInfo.InvariantCulture);
        var tasks = (limits.MaxProcesses + KernelTasks).ToString(CultureInfo.InvariantCulture);
        if (mode == CgroupMode.V2)
        {
            var dir = Path.Combine(Root, Name);
            Write(dir, "cpu.max", $"{quota} 100000");
            Write(dir, "cpu.weight", Math.Clamp(limits.CpuWeight, 1, 10_000).ToString(CultureInfo.InvariantCulture));
            Write(dir, "memory.max", memory);
            Write(dir, "pids.max", tasks);
            return;
        }

        Write(Path.Combine(Root, "cpu", Name), "cpu.cfs_period_us", "100000");
        Write(Path.Combine(Root, "cpu", Name), "cpu.cfs_quota_us", quota);
        Write(Path.Combine(Root, "cpu", Name), "cpu.shares", Math.Max(2, limits.CpuWeight * 1024 / 100).ToString(CultureInfo.InvariantCulture));
        Write(Path.Combine(Root, "memory", Name), "memory.limit_in_bytes", memory);
        Write(Path.Combine(Root, "pids", Name), "pids.max", tasks);
    }

    /// <summary>Freezes or thaws every task of the guest.</summary>
    public async Task FreezeAsync(bool frozen, CancellationToken cancellationToken)
    {
        string file, value, done;
        if (mode == CgroupMode.V2)
        {
            (file, value, done) = (Path.Combine(Root, Name, "cgroup.freeze"), frozen ? "1" : "0", frozen ? "frozen 1" : "frozen 0");
            await File.WriteAllTextAsync(file, value, cancellationToken);
            for (var i = 0; i < 100 && !File.ReadAllText(Path.Combine(Root, Name, "cgroup.events")).Contains(done, StringComparison.Ordinal); i++)
            {
                await Task.Delay(20, cancellationToken);
            }

            return;
        }

        file = Path.Combine(Root, "freezer", Name, "freezer.state");
        value = frozen ? "FROZEN" : "THAWED";
        // v1 may stay FREEZING while a task cannot stop at once (UML's ptraced tasks under load):
        // writing FROZEN again retries the tasks that are left, as the freezer documentation says.
        for (var i = 0; i < 250 && File.ReadAllText(file).Trim() != value; i++)
        {
            await File.WriteAllTextAsync(file, value, cancellationToken);
            if (File.ReadAllText(file).Trim() != value)
            {
                await Task.Delay(20, cancellationToken);
            }
        }

        if (File.ReadAllText(file).Trim() != value)
        {
            if (frozen)
            {
                await File.WriteAllTextAsync(file, "THAWED", CancellationToken.None); // never leave the guest half-frozen
            }

            throw new EngineException(EngineErrorCode.Timeout, $"the guest's tasks did not become {value.ToLowerInvariant()}");
        }
    }

    /// <summary>Whether the group is frozen.</summary>
    public bool IsFrozen
    {
        get
        {
            try
            {
                return mode == CgroupMode.V2
                    ? File.ReadAllText(Path.Combine(Root, Name, "cgroup.events")).Contains("frozen 1", StringComparison.Ordinal)
                    : File.ReadAllText(Path.Combine(Root, "freezer", Name, "freezer.state")).Trim() is "FROZEN" or "FREEZING";
            }
            catch (IOException)
            {
                return false;
            }
        }
    }

    /// <summary>The host pids of every task in the group.</summary>
    public IReadOnlyList<int> Tasks()
    {
        var file = mode == CgroupMode.V2 ? Path.Combine(Root, Name, "cgroup.threads") : Path.Combine(Root, "pids", Name, "tasks");
        try
        {
            return File.ReadAllLines(file).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>CPU time, guest memory in use (anonymous + shared memory: the guest's RAM as the host sees it) and guest processes.</summary>
    public (TimeSpan Cpu, long Memory, int Processes) Usage(int mainPid)
    {
        TimeSpan cpu;
        long memory;
        if (mode == CgroupMode.V2)
        {
            var dir = Path.Combine(Root, Name);
            cpu = TimeSpan.FromMicroseconds(Key(Path.Combine(dir, "cpu.stat"), "usage_usec"));
            memory = Key(Path.Combine(dir, "memory.stat"), "anon") + Key(Path.Combine(dir, "memory.stat"), "shmem");
        }
        else
        {
            cpu = TimeSpan.FromTicks(Long(Path.Combine(Root, "cpuacct", Name, "cpuacct.usage")) / 100);
            var stat = Path.Combine(Root, "memory", Name, "memory.stat");
            memory = Key(stat, "rss") + Key(stat, "shmem");
        }

        // The guest's processes are the host processes the UML kernel traces (one per address space).
        var processes = 0;
        foreach (var task in Tasks())
        {
            try
            {
                var line = File.ReadLines($"/proc/{task}/status").FirstOrDefault(l => l.StartsWith("TracerPid:", StringComparison.Ordinal));
                if (line is not null && line[10..].Trim() == mainPid.ToString(CultureInfo.InvariantCulture))
                {
                    processes++;
                }
            }
            catch (IOException)
            {
                // exited meanwhile
            }
        }

        return (cpu, memory, processes);
    }

    /// <summary>Removes the group (it must be empty: the guest has exited).</summary>
    public Task RemoveAsync(CancellationToken cancellationToken) => Cgroups.CgroupFolders.RemoveAsync(Dirs, cancellationToken);

    private static void Write(string dir, string file, string value) => File.WriteAllText(Path.Combine(dir, file), value);

    private static long Long(string path)
    {
        try
        {
            return long.TryParse(File.ReadAllText(path).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static long Key(string path, string key) => CgroupStats.ReadKey(path, key);
}
