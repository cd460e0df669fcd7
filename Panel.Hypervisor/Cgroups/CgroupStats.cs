using System.Globalization;
using Panel.Hypervisor.Host;

namespace Panel.Hypervisor.Cgroups;

/// <summary>Usage figures of the cgroup a process lives in (v1 controllers, hybrid, or v2).</summary>
/// <param name="CpuTime">CPU time used.</param>
/// <param name="MemoryBytes">Memory in use.</param>
/// <param name="MemoryLimitBytes">Memory limit (0 when unlimited).</param>
/// <param name="Processes">Tasks in the cgroup.</param>
public sealed record CgroupUsage(TimeSpan CpuTime, long MemoryBytes, long MemoryLimitBytes, int Processes);

/// <summary>Finds a process's cgroups through <c>/proc/PID/cgroup</c> and reads their counters.</summary>
public static class CgroupStats
{
    private const string Root = "/sys/fs/cgroup";

    /// <summary>
    /// Usage of the cgroup of <paramref name="pid"/>, trimmed to the first path segment that starts
    /// with <paramref name="scopePrefix"/> (for LXC: <c>lxc.payload.NAME</c>), so processes in
    /// sub-cgroups (systemd in a guest) are counted too.
    /// </summary>
    public static CgroupUsage? Read(int pid, string scopePrefix, CgroupMode mode)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{pid}/cgroup");
        }
        catch (IOException)
        {
            return null;
        }

        string? PathOf(string controller)
        {
            foreach (var line in lines)
            {
                var f = line.Split(':', 3);
                if (f.Length == 3 && (controller.Length == 0 ? f[0] == "0" && f[1].Length == 0 : f[1].Split(',').Contains(controller)))
                {
                    return Trim(f[2], scopePrefix);
                }
            }

            return null;
        }

        if (mode == CgroupMode.V2)
        {
            var p = PathOf("");
            if (p is null)
            {
                return null;
            }

            var dir = Root + p;
            var usec = ReadKey(Path.Combine(dir, "cpu.stat"), "usage_usec");
            return new CgroupUsage(
                TimeSpan.FromMicroseconds(usec),
                ReadLong(Path.Combine(dir, "memory.current")),
                ReadLimit(Path.Combine(dir, "memory.max")),
                (int)ReadLong(Path.Combine(dir, "pids.current")));
        }

        var cpu = PathOf("cpuacct");
        var mem = PathOf("memory");
        var pids = PathOf("pids");
        var limit = mem is null ? 0 : ReadLong($"{Root}/memory{mem}/memory.limit_in_bytes");
        return new CgroupUsage(
            cpu is null ? TimeSpan.Zero : TimeSpan.FromTicks(ReadLong($"{Root}/cpuacct{cpu}/cpuacct.usage") / 100),
            mem is null ? 0 : ReadLong($"{Root}/memory{mem}/memory.usage_in_bytes"),
            limit >= long.MaxValue / 2 ? 0 : limit,
            pids is null ? 0 : (int)ReadLong($"{Root}/pids{pids}/pids.current"));
    }

    private static string Trim(string path, string scopePrefix)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var i = Array.FindIndex(segments, s => s.StartsWith(scopePrefix, StringComparison.Ordinal));
        return i < 0 ? path : "/" + string.Join('/', segments[..(i + 1)]);
    }

    private static long ReadLong(string path)
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

    private static long ReadLimit(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            return text == "max" ? 0 : long.Parse(text, CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The value of <paramref name="key"/> in a cgroup <c>KEY VALUE</c> file (e.g. memory.stat), or 0.</summary>
    internal static long ReadKey(string path, string key)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var f = line.Split(' ');
                if (f.Length == 2 && f[0] == key)
                {
                    return long.Parse(f[1], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }
}
