using System.Globalization;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Storage;

/// <summary>
/// A container's disk: a sparse ext4 file of exactly the plan's size (the hard quota), loop-mounted,
/// holding the writable upper layer of an overlay over the read-only image. Creating one never
/// copies the image.
/// </summary>
/// <param name="directory">The instance folder.</param>
/// <param name="runner">Runs mkfs, mount and friends.</param>
public sealed class InstanceDisk(string directory, IProcessRunner runner)
{
    /// <summary>The ext4 image file.</summary>
    public string ImageFile => Path.Combine(directory, "disk.img");

    /// <summary>Where the ext4 file is mounted (holds <c>upper/</c> and <c>work/</c>).</summary>
    public string DiskMount => Path.Combine(directory, "disk");

    /// <summary>The overlay: the guest's root filesystem.</summary>
    public string RootFs => Path.Combine(directory, "rootfs");

    /// <summary>The overlay's writable layer.</summary>
    public string Upper => Path.Combine(DiskMount, "upper");

    private string Work => Path.Combine(DiskMount, "work");

    /// <summary>Whether both the disk and the overlay are mounted.</summary>
    public bool IsMounted
    {
        get
        {
            var points = MountTable.MountPoints();
            return points.Contains(Path.GetFullPath(DiskMount).TrimEnd('/'), StringComparer.Ordinal)
                && points.Contains(Path.GetFullPath(RootFs).TrimEnd('/'), StringComparer.Ordinal);
        }
    }

    /// <summary>Makes the sparse file and its filesystem (no reserved blocks: the guest gets the whole size), from the pool when one is ready.</summary>
    public async Task CreateAsync(long sizeBytes, DiskPool? pool, CancellationToken cancellationToken)
    {
        if (pool is not null && pool.TryTake(sizeBytes, ImageFile))
        {
            return;
        }

        await DiskPool.FormatAsync(runner, ImageFile, sizeBytes, cancellationToken);
    }

    /// <summary>Mounts the disk and the overlay (each only if not mounted yet).</summary>
    public async Task MountAsync(string imageRootFs, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DiskMount);
        Directory.CreateDirectory(RootFs);
        if (!MountTable.IsMounted(DiskMount))
        {
            if (ResizePending)
            {
                await ResizeOfflineAsync(cancellationToken);
            }

            // The loop device is released automatically on unmount (autoclear).
            KernelMounts.MountLoopExt4(ImageFile, DiskMount);
        }

        Directory.CreateDirectory(Upper);
        Directory.CreateDirectory(Work);
        if (!MountTable.IsMounted(RootFs))
        {
            KernelMounts.MountOverlay(imageRootFs, Upper, Work, RootFs);
        }
    }

    /// <summary>Unmounts the overlay and the disk (whatever of them is mounted).</summary>
    public async Task UnmountAsync(CancellationToken cancellationToken)
    {
        foreach (var mount in MountTable.MountsUnder(directory))
        {
            var r = await runner.RunAsync("umount", [mount], null, cancellationToken);
            if (!r.Succeeded && MountTable.IsMounted(mount))
            {
                // Busy (a process still inside): detach it now; the kernel frees it when the last user goes.
                (await runner.RunAsync("umount", ["-l", mount], null, cancellationToken)).ThrowIfFailed();
            }
        }
    }

    /// <summary>Used and total bytes of the disk, when mounted.</summary>
    public (long Used, long Total)? Usage()
    {
        if (!MountTable.IsMounted(DiskMount))
        {
            return null;
        }

        var d = new DriveInfo(DiskMount);
        return (d.TotalSize - d.TotalFreeSpace, d.TotalSize);
    }

    /// <summary>Grows the disk to <paramref name="sizeBytes"/> (online when mounted). Shrinking is refused.</summary>
    public async Task GrowAsync(long sizeBytes, CancellationToken cancellationToken)
    {
        var current = new FileInfo(ImageFile).Length;
        if (sizeBytes == current)
        {
            return;
        }

        if (sizeBytes < current)
        {
            throw EngineException.Invalid("Limits.DiskBytes", string.Create(CultureInfo.InvariantCulture, $"a disk can only grow ({current} bytes now)"));
        }

        await using (var f = new FileStream(ImageFile, FileMode.Open, FileAccess.Write))
        {
            f.SetLength(sizeBytes);
        }

        if (MountTable.IsMounted(DiskMount))
        {
            // Online growth where the kernel allows it; otherwise at the next mount (next start).
            var loop = (await runner.RunAsync("findmnt", ["-n", "-o", "SOURCE", DiskMount], null, cancellationToken)).ThrowIfFailed().StdOut.Trim();
            await runner.RunAsync("losetup", ["-c", loop], null, cancellationToken);
            if (!(await runner.RunAsync("resize2fs", [loop], null, cancellationToken)).Succeeded)
            {
                await File.WriteAllTextAsync(PendingResizeMarker, sizeBytes.ToString(CultureInfo.InvariantCulture), cancellationToken);
            }
        }
        else
        {
            await ResizeOfflineAsync(cancellationToken);
        }
    }

    /// <summary>Has the next mount check the filesystem and fit it to the file (a disk put in place from elsewhere).</summary>
    public void MarkResizePending()
        => File.WriteAllText(PendingResizeMarker, new FileInfo(ImageFile).Length.ToString(CultureInfo.InvariantCulture));

    /// <summary>Whether a disk growth waits for the next start.</summary>
    public bool ResizePending => File.Exists(PendingResizeMarker);

    private string PendingResizeMarker => Path.Combine(directory, "disk.resize-pending");

    private async Task ResizeOfflineAsync(CancellationToken cancellationToken)
    {
        // e2fsck exits 0 (clean) or 1 (errors corrected); 4 and above mean it could not make the disk safe to resize.
        var fsck = await runner.RunAsync("e2fsck", ["-f", "-y", ImageFile], new ProcessRunOptions(TimeSpan.FromMinutes(10)), cancellationToken);
        if (fsck.ExitCode is not (0 or 1))
        {
            fsck.ThrowIfFailed();
        }

        (await runner.RunAsync("resize2fs", [ImageFile], new ProcessRunOptions(TimeSpan.FromMinutes(10)), cancellationToken)).ThrowIfFailed();
        File.Delete(PendingResizeMarker);
    }
}
