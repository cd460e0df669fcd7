using System.Diagnostics;
using System.Globalization;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Backups;

/// <summary>Options of <see cref="InstanceBackups.BackupAsync"/>.</summary>
/// <param name="Id">The instance (running, frozen or stopped).</param>
/// <param name="Folder">Where the archive goes; the engine's backups folder when null.</param>
public sealed record BackupOptions(string Id, string? Folder = null);

/// <summary>A finished backup.</summary>
/// <param name="Archive">The archive's path (its checksum is at <c>Archive + ".sha256"</c>).</param>
/// <param name="Manifest">What it holds.</param>
/// <param name="SizeBytes">The archive's size.</param>
/// <param name="Duration">How long it took.</param>
public sealed record BackupResult(string Archive, BackupManifest Manifest, long SizeBytes, TimeSpan Duration);

/// <summary>Options of <see cref="InstanceBackups.RestoreAsync"/>.</summary>
/// <param name="Archive">The backup archive (with its <c>.sha256</c> beside it).</param>
/// <param name="AsNew">
/// Restore as a new instance with this spec (id, address and MAC from the caller; disk at least the backup's),
/// on this node or another. Null restores the backed-up instance itself: its disks are replaced if it
/// exists here, otherwise it is created again with the backup's spec.
/// </param>
/// <param name="KeepGuestAccess">A new instance keeps the root password and SSH keys the backup holds; false writes <c>AsNew.Access</c>.</param>
/// <param name="Start">Start the instance afterwards (an instance that was running is always started again).</param>
public sealed record RestoreOptions(string Archive, InstanceSpec? AsNew = null, bool KeepGuestAccess = true, bool Start = true);

/// <summary>
/// Backups for every driver, designed once: the driver exports its disks into a staging folder
/// (<see cref="IInstanceDriver.ExportDisksAsync"/>), this class hashes them (<see cref="DiskHash"/>), writes the
/// manifest and the archive (<see cref="BackupArchive"/>); restore verifies the whole archive
/// into a staging folder first and only then lets the driver take the disks
/// (<see cref="IInstanceDriver.ImportDisksAsync"/>). Staging lives under the state folder so
/// disks move into place by rename.
/// </summary>
public sealed class InstanceBackups(EngineOptions options, DriverRegistry drivers, IProcessRunner? runner = null)
{
    private readonly BackupArchive archives = new(runner ?? ProcessRunner.Instance);

    /// <summary>Backs up one instance of <paramref name="driver"/> into a new archive.</summary>
    public async Task<BackupResult> BackupAsync(IInstanceDriver driver, BackupOptions backup, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(backup);
        SpecValidator.ValidateId(backup.Id);
        var sw = Stopwatch.StartNew();
        var folder = backup.Folder ?? options.BackupsDirectory;
        Directory.CreateDirectory(folder);
        var staging = NewStaging();
        try
        {
            var export = await driver.ExportDisksAsync(new ExportDisksOptions(backup.Id, staging), cancellationToken);
            var disks = new List<BackupDisk>();
            foreach (var file in export.Files)
            {
                if (!BackupArchive.IsSafeName(file) || file == BackupArchive.ManifestName)
                {
                    throw new EngineException(EngineErrorCode.HostFailure, $"the {driver.Name} driver exported a disk file named '{file}'");
                }

                var path = Path.Combine(staging, file);
                disks.Add(new BackupDisk(file, new FileInfo(path).Length, await DiskHash.ComputeAsync(path, cancellationToken)));
            }

            var created = DateTime.UtcNow;
            var spec = export.Spec with { Access = export.Spec.Access with { RootPassword = null, RootPasswordHash = null } };
            var manifest = new BackupManifest(BackupArchive.FormatVersion, backup.Id, driver.Name, spec.Image, export.ImageSha256, spec, disks, export.Consistency, created);
            var archive = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{backup.Id}-{created:yyyyMMdd'T'HHmmss'Z'}-{Guid.NewGuid().ToString("N")[..6]}{BackupArchive.Extension}"));
            await archives.WriteAsync(staging, manifest, archive, cancellationToken);
            return new BackupResult(archive, manifest, new FileInfo(archive).Length, sw.Elapsed);
        }
        finally
        {
            DeleteStaging(staging);
        }
    }

    /// <summary>Reads and verifies an archive's manifest without restoring it.</summary>
    public async Task<BackupManifest> VerifyAsync(string archive, CancellationToken cancellationToken = default)
    {
        var staging = NewStaging();
        try
        {
            return await archives.ExtractVerifiedAsync(archive, staging, cancellationToken);
        }
        finally
        {
            DeleteStaging(staging);
        }
    }

    /// <summary>
    /// Restores an archive (verified completely before anything changes; a corrupt or truncated one is
    /// refused with <see cref="EngineErrorCode.CorruptBackup"/>). Returns the restored instance's id.
    /// </summary>
    public async Task<string> RestoreAsync(RestoreOptions restore, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(restore);
        var staging = NewStaging();
        try
        {
            var manifest = await archives.ExtractVerifiedAsync(restore.Archive, staging, cancellationToken);
            var driver = drivers.Get(manifest.Driver);
            var files = manifest.Disks.Select(d => d.Name).ToList();
            ImportDisksOptions import;
            if (restore.AsNew is { } spec)
            {
                // A guest that keeps its own access is recorded with the backup's keys, not the caller's.
                var access = restore.KeepGuestAccess ? manifest.Spec.Access : spec.Access;
                import = new ImportDisksOptions(staging, files, spec with { Image = manifest.Image, Access = access }, manifest.ImageSha256, Replace: false, restore.KeepGuestAccess, restore.Start);
            }
            else
            {
                var exists = (await driver.GetStateAsync(new StateOptions(manifest.EngineId, WithMetrics: false), cancellationToken)).Status != InstanceStatus.Missing;
                import = new ImportDisksOptions(staging, files, manifest.Spec with { Id = manifest.EngineId }, manifest.ImageSha256, Replace: exists, KeepGuestAccess: true, restore.Start);
            }

            await driver.ImportDisksAsync(import, cancellationToken);
            return import.Spec.Id;
        }
        finally
        {
            DeleteStaging(staging);
        }
    }

    private string NewStaging()
    {
        var root = Path.Combine(options.StateDirectory, "staging");
        Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // What a killed engine left (no backup or restore runs for a day).
        foreach (var stale in new DirectoryInfo(root).EnumerateDirectories().Where(d => d.LastWriteTimeUtc < DateTime.UtcNow.AddDays(-1)))
        {
            DeleteStaging(stale.FullName);
        }

        var dir = Path.Combine(root, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    private static void DeleteStaging(string dir)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
