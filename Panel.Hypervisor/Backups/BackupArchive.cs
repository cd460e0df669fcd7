using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Backups;

/// <summary>
/// The backup file: a zstd-compressed GNU tar (sparse members, so empty disk blocks cost
/// nothing) holding <c>manifest.json</c> first and then the disk files, with a <c>NAME.sha256</c>
/// beside it in <c>sha256sum</c>'s format. Written under a temporary name and renamed when
/// complete. Reading verifies everything before anyone acts on it: the archive's checksum, its
/// member list (plain files with plain names, nothing else), the manifest, and every disk's size
/// and content hash (<see cref="DiskHash"/>; format 1 archives: the plain sha256 of the whole
/// disk); any mismatch is a <see cref="EngineErrorCode.CorruptBackup"/> error.
/// </summary>
public sealed partial class BackupArchive(IProcessRunner runner)
{
    /// <summary>The archive format this engine writes and reads.</summary>
    public const int FormatVersion = 2;

    /// <summary>The manifest's name inside the archive.</summary>
    public const string ManifestName = "manifest.json";

    /// <summary>The file name ending of backups.</summary>
    public const string Extension = ".tar.zst";

    private static readonly ProcessRunOptions Long = new(TimeSpan.FromHours(2));

    /// <summary>
    /// Writes <paramref name="manifest"/> and the disk files it lists (found in <paramref name="folder"/>)
    /// to <paramref name="archive"/>, then its checksum file. Nothing appears under the final names until both are complete.
    /// </summary>
    public async Task WriteAsync(string folder, BackupManifest manifest, string archive, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        await File.WriteAllTextAsync(Path.Combine(folder, ManifestName), manifest.ToJson(), cancellationToken);
        var tmp = archive + ".partial";
        try
        {
            (await runner.RunAsync("tar",
                ["--zstd", "--sparse", "--format=gnu", "--owner=0", "--group=0", "--numeric-owner", "-cf", tmp, "-C", folder, "--", ManifestName, .. manifest.Disks.Select(d => d.Name)],
                Long, cancellationToken)).ThrowIfFailed();
            var sum = await Sha256Async(tmp, cancellationToken);
            File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await File.WriteAllTextAsync(tmp + ".sha256", $"{sum}  {Path.GetFileName(archive)}\n", cancellationToken);
            File.Move(tmp, archive, overwrite: false);
            File.Move(tmp + ".sha256", archive + ".sha256", overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
            File.Delete(tmp + ".sha256");
        }
    }

    /// <summary>
    /// Verifies <paramref name="archive"/> completely and unpacks it into the empty folder <paramref name="folder"/>;
    /// returns its manifest. Throws <see cref="EngineErrorCode.CorruptBackup"/> (or NotFound) and leaves nothing but that folder's content otherwise.
    /// </summary>
    public async Task<BackupManifest> ExtractVerifiedAsync(string archive, string folder, CancellationToken cancellationToken)
    {
        if (!File.Exists(archive))
        {
            throw new EngineException(EngineErrorCode.NotFound, $"no backup at {archive}", "Archive");
        }

        var name = Path.GetFileName(archive);
        var sumFile = archive + ".sha256";
        if (!File.Exists(sumFile))
        {
            throw Corrupt(name, $"its checksum file {Path.GetFileName(sumFile)} is missing");
        }

        var expected = (await File.ReadAllTextAsync(sumFile, cancellationToken)).Split(' ', 2)[0].Trim().ToLowerInvariant();
        var actual = await Sha256Async(archive, cancellationToken);
        if (expected != actual)
        {
            throw Corrupt(name, $"its sha256 is {actual[..16]}…, its checksum file says {(expected.Length >= 16 ? expected[..16] : expected)}… (damaged or truncated)");
        }

        // Only plain files with plain names: no links, devices, folders or paths (restore runs as root).
        var list = await runner.RunAsync("tar", ["--zstd", "-tvf", archive], Long, cancellationToken);
        if (!list.Succeeded)
        {
            throw Corrupt(name, "it does not unpack: " + FirstLine(list.StdErr));
        }

        var members = new List<string>();
        foreach (var line in list.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var member = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
            if (line[0] != '-' || !SafeName().IsMatch(member) || members.Contains(member))
            {
                throw Corrupt(name, $"it holds something other than plain files: {line.Trim()}");
            }

            members.Add(member);
        }

        if (members.FirstOrDefault() != ManifestName)
        {
            throw Corrupt(name, $"it does not start with {ManifestName}");
        }

        Directory.CreateDirectory(folder);
        var x = await runner.RunAsync("tar", ["--zstd", "-xf", archive, "-C", folder, "--no-same-owner", "--no-same-permissions", "--", .. members], Long, cancellationToken);
        if (!x.Succeeded)
        {
            throw Corrupt(name, "it does not unpack: " + FirstLine(x.StdErr));
        }

        var manifest = BackupManifest.TryParse(await File.ReadAllTextAsync(Path.Combine(folder, ManifestName), cancellationToken))
            ?? throw Corrupt(name, $"its {ManifestName} is not a backup manifest");
        if (manifest.FormatVersion is < 1 or > FormatVersion)
        {
            throw Corrupt(name, $"it has format version {manifest.FormatVersion}; this engine reads versions 1 to {FormatVersion}");
        }

        if (manifest.Disks.Count == 0 || manifest.Disks.Select(d => d.Name).Order(StringComparer.Ordinal).SequenceEqual(members.Skip(1).Order(StringComparer.Ordinal)) is false)
        {
            throw Corrupt(name, "its manifest does not list exactly the disk files it holds");
        }

        foreach (var disk in manifest.Disks)
        {
            var file = Path.Combine(folder, disk.Name);
            var size = new FileInfo(file).Length;
            if (size != disk.SizeBytes)
            {
                throw Corrupt(name, string.Create(CultureInfo.InvariantCulture, $"disk {disk.Name} has {size} bytes, the manifest says {disk.SizeBytes}"));
            }

            var hash = manifest.FormatVersion == 1 ? await Sha256Async(file, cancellationToken) : await DiskHash.ComputeAsync(file, cancellationToken);
            if (hash != disk.Sha256)
            {
                throw Corrupt(name, $"disk {disk.Name} does not match its sha256 in the manifest");
            }
        }

        return manifest;
    }

    /// <summary>The lower-case hex sha256 of a file's content.</summary>
    public static async Task<string> Sha256Async(string file, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }

    /// <summary>Whether <paramref name="name"/> may be a member of an archive (and a disk file name).</summary>
    public static bool IsSafeName(string name) => SafeName().IsMatch(name);

    private static EngineException Corrupt(string archive, string why)
        => new(EngineErrorCode.CorruptBackup, $"backup {archive} is refused, nothing was changed: {why}", "Archive");

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "(no message)";

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex SafeName();
}
