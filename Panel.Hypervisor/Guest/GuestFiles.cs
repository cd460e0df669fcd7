namespace Panel.Hypervisor.Guest;

/// <summary>
/// Writes files into a guest's root filesystem from the host, refusing to follow any symbolic
/// link on the way: a guest that replaced <c>/root/.ssh</c> with a link to a host path must not
/// make the engine write there. Use it only while the guest is stopped (no race possible).
/// </summary>
public sealed class GuestFiles(string rootFs)
{
    /// <summary>Writes <paramref name="content"/> to <paramref name="guestPath"/> (absolute inside the guest) with a mode.</summary>
    public void Write(string guestPath, string content, UnixFileMode mode)
    {
        var full = Resolve(guestPath, createParents: true, parentMode: UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (File.Exists(full) && new FileInfo(full).LinkTarget is not null)
        {
            File.Delete(full); // replace a link by a plain file, never write through it
        }

        var tmp = full + ".vpspanel-tmp";
        File.WriteAllText(tmp, content);
        File.SetUnixFileMode(tmp, mode);
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>Reads a guest file, or null when it does not exist (links are refused).</summary>
    public string? Read(string guestPath)
    {
        var full = Resolve(guestPath, createParents: false, parentMode: default);
        if (!File.Exists(full))
        {
            return null;
        }

        if (new FileInfo(full).LinkTarget is not null)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"{guestPath} in the guest is a symbolic link; refusing to read it from the host");
        }

        return File.ReadAllText(full);
    }

    private string Resolve(string guestPath, bool createParents, UnixFileMode parentMode)
    {
        if (!guestPath.StartsWith('/') || guestPath.Contains("/../", StringComparison.Ordinal) || guestPath.EndsWith("/..", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{guestPath}' must be an absolute guest path without '..'", nameof(guestPath));
        }

        var parts = guestPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = rootFs;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            current = Path.Combine(current, parts[i]);
            var info = new DirectoryInfo(current);
            if (info.LinkTarget is not null || (File.Exists(current) && new FileInfo(current).LinkTarget is not null))
            {
                throw new EngineException(EngineErrorCode.HostFailure, $"/{string.Join('/', parts[..(i + 1)])} in the guest is a symbolic link; refusing to write through it");
            }

            if (!info.Exists)
            {
                if (!createParents)
                {
                    return Path.Combine(current, string.Join('/', parts[(i + 1)..]));
                }

                Directory.CreateDirectory(current, parentMode);
            }
        }

        return Path.Combine(current, parts[^1]);
    }
}
