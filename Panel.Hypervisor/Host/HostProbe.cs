using System.Globalization;

namespace Panel.Hypervisor.Host;

/// <summary>Reads <see cref="HostFacts"/> from <c>/proc</c> and <c>/sys</c>. Cheap: no process is started.</summary>
public static class HostProbe
{
    /// <summary>Reads the facts of the machine this process runs on.</summary>
    public static HostFacts Read() => Read("/");

    /// <summary>Reads the facts from a root folder (tests point this at a fake tree).</summary>
    public static HostFacts Read(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        string P(string path) => Path.Combine(root, path.TrimStart('/'));

        var hostname = ReadTrimmed(P("/proc/sys/kernel/hostname")) ?? Environment.MachineName;
        var kernel = ReadTrimmed(P("/proc/sys/kernel/osrelease")) ?? "unknown";
        var memory = ParseMemTotal(ReadAll(P("/proc/meminfo")));
        var mode = DetectCgroupMode(ReadAll(P("/proc/self/mounts")));
        return new HostFacts(hostname, kernel, Environment.ProcessorCount, memory, mode, File.Exists(P("/dev/kvm")));
    }

    /// <summary>Parses <c>MemTotal</c> (kB) out of a <c>/proc/meminfo</c> text, in bytes; 0 when absent.</summary>
    public static long ParseMemTotal(string? meminfo)
    {
        foreach (var line in (meminfo ?? "").Split('\n'))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                continue;
            }

            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb))
            {
                return kb * 1024;
            }
        }

        return 0;
    }

    /// <summary>Decides the cgroup layout from a <c>/proc/self/mounts</c> text.</summary>
    public static CgroupMode DetectCgroupMode(string? mounts)
    {
        var v1 = false;
        var v2AtRoot = false;
        var v2Elsewhere = false;
        foreach (var line in (mounts ?? "").Split('\n'))
        {
            var f = line.Split(' ');
            if (f.Length < 3)
            {
                continue;
            }

            var (mountPoint, type) = (f[1], f[2]);
            if (type == "cgroup")
            {
                v1 = true;
            }
            else if (type == "cgroup2")
            {
                if (mountPoint == "/sys/fs/cgroup")
                {
                    v2AtRoot = true;
                }
                else
                {
                    v2Elsewhere = true;
                }
            }
        }

        return (v1, v2AtRoot, v2Elsewhere) switch
        {
            (false, true, _) => CgroupMode.V2,
            (true, _, true) => CgroupMode.Hybrid,
            (true, _, _) => CgroupMode.V1,
            (false, false, true) => CgroupMode.V2,
            _ => CgroupMode.None,
        };
    }

    private static string? ReadAll(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? ReadTrimmed(string path) => ReadAll(path)?.Trim();
}
