namespace Panel.Hypervisor.Storage;

/// <summary>Reads the host's mount table (<c>/proc/self/mountinfo</c>), decoding octal escapes.</summary>
public static class MountTable
{
    /// <summary>The mount points currently mounted in this mount namespace.</summary>
    public static IReadOnlyList<string> MountPoints()
    {
        var points = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var f = line.Split(' ');
            if (f.Length > 4)
            {
                points.Add(Decode(f[4]));
            }
        }

        return points;
    }

    /// <summary>Whether <paramref name="path"/> is a mount point.</summary>
    public static bool IsMounted(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        return MountPoints().Contains(full, StringComparer.Ordinal);
    }

    /// <summary>Mount points at or below <paramref name="directory"/>, deepest first (the order to unmount them).</summary>
    public static IReadOnlyList<string> MountsUnder(string directory)
    {
        var root = Path.GetFullPath(directory).TrimEnd('/');
        return MountPoints()
            .Where(m => m == root || m.StartsWith(root + "/", StringComparison.Ordinal))
            .OrderByDescending(m => m.Length)
            .ToList();
    }

    private static string Decode(string s)
    {
        if (!s.Contains('\\', StringComparison.Ordinal))
        {
            return s;
        }

        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length)
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(s[i]);
            }
        }

        return sb.ToString();
    }
}
