using System.Formats.Tar;
using System.IO.Compression;
using Panel.Core.Services;

namespace Panel.Core.Hosting;

/// <summary>
/// Checks an uploaded zip before anything is written and turns it into a plain tar of files and folders:
/// no entry may leave the site folder (<c>../</c>, absolute paths, drive letters), none may be a symbolic
/// link or another special file, and the unpacked size (counted while reading, not trusted from the
/// headers) must stay within the quota. Anything else is a refusal naming the entry.
/// </summary>
public static class SiteArchive
{
    /// <summary>At most this many entries.</summary>
    public const int MaxEntries = 20_000;

    /// <summary>The validated content as a tar stream (paths relative to the site folder), and its unpacked size.</summary>
    public sealed record Checked(byte[] Tar, long Bytes, int Files);

    /// <summary>Validates <paramref name="zip"/> and repacks it, or refuses.</summary>
    public static Checked Check(Stream zip, long quotaBytes)
    {
        ArgumentNullException.ThrowIfNull(zip);
        ZipArchive archive;
        try
        {
            archive = new ZipArchive(zip, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException)
        {
            throw new PanelRefusedException("The upload is not a zip file.", "Content");
        }

        using (archive)
        {
            if (archive.Entries.Count > MaxEntries)
            {
                throw new PanelRefusedException($"The zip has {archive.Entries.Count} entries; at most {MaxEntries} are accepted.", "Content");
            }

            // First pass: names and kinds only, so a bad entry anywhere refuses the whole upload.
            var entries = new List<(ZipArchiveEntry Entry, string Path, bool IsDir)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in archive.Entries)
            {
                var path = SafePath(entry.FullName);
                var isDir = entry.FullName.EndsWith('/') || entry.FullName.EndsWith('\\');
                var type = (entry.ExternalAttributes >> 16) & 0xF000;
                if (type == 0xA000)
                {
                    throw new PanelRefusedException($"The zip entry '{entry.FullName}' is a symbolic link; links are not accepted.", "Content");
                }

                if (type is not (0 or 0x8000 or 0x4000))
                {
                    throw new PanelRefusedException($"The zip entry '{entry.FullName}' is not a plain file or folder.", "Content");
                }

                if (path.Length > 0 && !seen.Add(path))
                {
                    throw new PanelRefusedException($"The zip holds '{path}' twice.", "Content");
                }

                if (path.Length > 0)
                {
                    entries.Add((entry, path, isDir || type == 0x4000));
                }
            }

            // Second pass: copy into a tar, counting the bytes really unpacked (zip headers can lie).
            using var tar = new MemoryStream();
            long total = 0;
            var files = 0;
            using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
            {
                foreach (var (entry, path, isDir) in entries)
                {
                    if (isDir)
                    {
                        writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, path + "/") { Mode = (UnixFileMode)0b111_101_101 });
                        continue;
                    }

                    if (total + entry.Length > quotaBytes)
                    {
                        throw OverQuota(quotaBytes);
                    }

                    using var content = new MemoryStream();
                    using (var source = entry.Open())
                    {
                        var buffer = new byte[81920];
                        int read;
                        while ((read = source.Read(buffer)) > 0)
                        {
                            total += read;
                            if (total > quotaBytes)
                            {
                                throw OverQuota(quotaBytes);
                            }

                            content.Write(buffer, 0, read);
                        }
                    }

                    content.Position = 0;
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, path) { Mode = FileMode(entry), DataStream = content });
                    files++;
                }
            }

            return new Checked(tar.ToArray(), total, files);
        }
    }

    /// <summary>
    /// A file's mode in the tar: rw-r--r--, or rwxr-xr-x when the zip (made on Unix) marks it executable, so a
    /// dynamic site's start script stays runnable. No set-id or sticky bits ever pass.
    /// </summary>
    internal static UnixFileMode FileMode(ZipArchiveEntry entry)
    {
        var unixMode = (entry.ExternalAttributes >> 16) & 0x1FF;
        return (UnixFileMode)((unixMode & 0b001_001_001) != 0 ? 0b111_101_101 : 0b110_100_100);
    }

    private static PanelRefusedException OverQuota(long quota)
        => new($"The zip unpacks to more than the site's quota of {quota / (1024.0 * 1024):0.#} MiB.", "Content");

    /// <summary>The entry's path relative to the site folder, or a refusal when it would leave it.</summary>
    internal static string SafePath(string name)
    {
        var refuse = new PanelRefusedException($"The zip entry '{name}' points outside the site folder; nothing was written.", "Content");
        if (name.Contains('\0', StringComparison.Ordinal) || name.StartsWith('/') || name.StartsWith('\\') || (name.Length >= 2 && name[1] == ':'))
        {
            throw refuse;
        }

        var parts = name.Split('/', '\\');
        if (parts.Any(p => p == ".."))
        {
            throw refuse;
        }

        return string.Join('/', parts.Where(p => p.Length > 0 && p != "."));
    }
}
