using System.Globalization;
using System.Text.Json;
using Panel.Hypervisor.Images;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Drivers.Uml;

/// <summary>Where a guest's root disk lives: a copy-on-write file over a shared base, or (after a growth) a private file.</summary>
/// <param name="Size">The disk size the guest sees (its plan's disk).</param>
/// <param name="Base">The shared base of the copy-on-write file, or null for a private disk (<c>disk.img</c>).</param>
/// <param name="PendingSize">A larger size to grow to at the next start (requested while running).</param>
internal sealed record UmlDiskState(long Size, string? Base, long? PendingSize = null)
{
    public const string FileName = "disk.json";

    public string DiskFile(string dir) => Path.Combine(dir, Base is null ? "disk.img" : "disk.cow");

    /// <summary>The <c>ubd0=</c> value.</summary>
    public string UbdArgument(string dir) => Base is null ? DiskFile(dir) : $"{DiskFile(dir)},{Base}";

    public static UmlDiskState Read(string dir)
        => JsonSerializer.Deserialize<UmlDiskState>(File.ReadAllText(Path.Combine(dir, FileName)))
           ?? throw new EngineException(EngineErrorCode.HostFailure, $"{dir}/{FileName} is empty");

    public void Write(string dir)
    {
        var tmp = Path.Combine(dir, FileName + ".tmp");
        File.WriteAllText(tmp, JsonSerializer.Serialize(this));
        File.Move(tmp, Path.Combine(dir, FileName), overwrite: true);
    }
}

/// <summary>
/// Root disks of UML guests with a hard size per plan. A copy-on-write file takes its size from
/// its base, so the engine keeps one read-only base per (image build, disk size): the image's
/// ext4 form copied sparsely, grown with truncate + resize2fs, shared by every VPS of that image
/// and plan. Each VPS writes only its own sparse COW file (<c>ubd0=disk.cow,base</c>), which can
/// never outgrow the plan. Growing one VPS's disk merges its COW file and base into a private
/// sparse file (<c>uml_moo</c>) and grows that: the guest keeps its data, the neighbours their base.
/// </summary>
internal sealed class UmlDiskStore(string basesDirectory, IProcessRunner runner)
{
    private static readonly SemaphoreSlim BaseGate = new(1, 1);

    /// <summary>The folder of the shared bases.</summary>
    public string BasesDirectory { get; } = basesDirectory;

    /// <summary>The shared base of <paramref name="image"/> at <paramref name="size"/> bytes, made on first use.</summary>
    public async Task<string> BaseAsync(ImageInfo image, long size, CancellationToken cancellationToken)
    {
        if (!File.Exists(image.Ext4Disk))
        {
            throw EngineException.Invalid("Image", $"image '{image.Manifest.Name}' has no ext4 form (run ./panel images {image.Manifest.Name})");
        }

        var imageSize = new FileInfo(image.Ext4Disk).Length;
        var name = string.Create(CultureInfo.InvariantCulture, $"{image.Manifest.Name}-{image.Manifest.Sha256[..12]}-{size}.ext4");
        var path = Path.Combine(BasesDirectory, name);
        if (File.Exists(path))
        {
            return path;
        }

        await BaseGate.WaitAsync(cancellationToken);
        try
        {
            if (File.Exists(path))
            {
                return path;
            }

            Directory.CreateDirectory(BasesDirectory);
            File.SetUnixFileMode(BasesDirectory, (UnixFileMode)Convert.ToInt32("755", 8));
            var tmp = path + ".tmp";
            try
            {
                (await runner.RunAsync("cp", ["--sparse=always", "--", image.Ext4Disk, tmp], null, cancellationToken)).ThrowIfFailed();
                await CheckAsync(tmp, cancellationToken);
                if (size > imageSize)
                {
                    (await runner.RunAsync("truncate", ["-s", size.ToString(CultureInfo.InvariantCulture), tmp], null, cancellationToken)).ThrowIfFailed();
                    (await runner.RunAsync("resize2fs", [tmp], null, cancellationToken)).ThrowIfFailed();
                }
                else if (size < imageSize)
                {
                    var shrink = await runner.RunAsync("resize2fs", [tmp, (size / 1024).ToString(CultureInfo.InvariantCulture) + "K"], null, cancellationToken);
                    if (!shrink.Succeeded)
                    {
                        throw EngineException.Invalid("Limits.DiskBytes", $"image '{image.Manifest.Name}' does not fit in {size >> 20} MiB");
                    }

                    (await runner.RunAsync("truncate", ["-s", size.ToString(CultureInfo.InvariantCulture), tmp], null, cancellationToken)).ThrowIfFailed();
                }

                File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                File.Move(tmp, path);
            }
            finally
            {
                File.Delete(tmp);
            }

            return path;
        }
        finally
        {
            BaseGate.Release();
        }
    }

    /// <summary>Creates the guest's COW file over <paramref name="basePath"/> (uml_mkcow), owned by the guest's host user.</summary>
    public async Task CreateCowAsync(string cow, string basePath, uint uid, CancellationToken cancellationToken)
    {
        (await runner.RunAsync("uml_mkcow", ["-f", cow, basePath], null, cancellationToken)).ThrowIfFailed();
        await OwnAsync(cow, uid, cancellationToken);
    }

    /// <summary>Grows a guest's disk (guest stopped): merges COW and base into a private sparse file if needed, then grows its filesystem.</summary>
    public async Task<UmlDiskState> GrowAsync(string dir, UmlDiskState state, long size, uint uid, CancellationToken cancellationToken)
    {
        var img = Path.Combine(dir, "disk.img");
        if (state.Base is not null)
        {
            var merged = img + ".tmp";
            File.Delete(merged);
            (await runner.RunAsync("uml_moo", ["-b", state.Base, state.DiskFile(dir), merged], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
            // uml_moo writes every block; make the private disk sparse again.
            (await runner.RunAsync("fallocate", ["--dig-holes", merged], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
            File.Move(merged, img, overwrite: true);
        }

        await CheckAsync(img, cancellationToken);
        (await runner.RunAsync("truncate", ["-s", size.ToString(CultureInfo.InvariantCulture), img], null, cancellationToken)).ThrowIfFailed();
        (await runner.RunAsync("resize2fs", [img], new ProcessRunOptions(TimeSpan.FromMinutes(10)), cancellationToken)).ThrowIfFailed();
        await OwnAsync(img, uid, cancellationToken);
        var grown = new UmlDiskState(size, null);
        grown.Write(dir);
        File.Delete(Path.Combine(dir, "disk.cow"));
        return grown;
    }

    /// <summary>
    /// Writes <paramref name="output"/>: a private, sparse, self-contained disk with the content of
    /// <paramref name="file"/> (a COW file over <paramref name="basePath"/>, merged with <c>uml_moo</c>; or a private disk, copied).
    /// </summary>
    public async Task FlattenAsync(string file, string? basePath, string output, CancellationToken cancellationToken)
    {
        File.Delete(output);
        if (basePath is null)
        {
            (await runner.RunAsync("cp", ["--sparse=always", "--", file, output], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
            return;
        }

        (await runner.RunAsync("uml_moo", ["-b", basePath, file, output], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
        // uml_moo writes every block; give the zeros back.
        (await runner.RunAsync("fallocate", ["--dig-holes", output], new ProcessRunOptions(TimeSpan.FromMinutes(30)), cancellationToken)).ThrowIfFailed();
    }

    /// <summary>
    /// A read-only base made from a snapshot (flattened), shared by every clone of that snapshot and
    /// kept, like any base, while an instance or snapshot refers to it - also after the snapshot or its instance is gone.
    /// </summary>
    public async Task<string> SnapshotBaseAsync(string snapshotDir, UmlDiskState state, string key, CancellationToken cancellationToken)
    {
        var path = Path.Combine(BasesDirectory, $"clone-{key}.ext4");
        await BaseGate.WaitAsync(cancellationToken);
        try
        {
            if (File.Exists(path))
            {
                return path;
            }

            Directory.CreateDirectory(BasesDirectory);
            File.SetUnixFileMode(BasesDirectory, (UnixFileMode)Convert.ToInt32("755", 8));
            var tmp = path + ".tmp";
            try
            {
                await FlattenAsync(state.DiskFile(snapshotDir), state.Base, tmp, cancellationToken);
                File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                File.Move(tmp, path);
            }
            finally
            {
                File.Delete(tmp);
            }

            return path;
        }
        finally
        {
            BaseGate.Release();
        }
    }

    /// <summary>Gives a guest's disk file to its host user, readable and writable by it alone.</summary>
    public Task OwnDiskAsync(string file, uint uid, CancellationToken cancellationToken) => OwnAsync(file, uid, cancellationToken);

    /// <summary>Removes bases no instance or snapshot refers to any more.</summary>
    public async Task CollectAsync(IEnumerable<string> instanceDirs, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(BasesDirectory))
        {
            return;
        }

        await BaseGate.WaitAsync(cancellationToken);
        try
        {
            var used = new HashSet<string>(StringComparer.Ordinal);
            foreach (var dir in instanceDirs)
            {
                foreach (var file in Directory.EnumerateFiles(dir, UmlDiskState.FileName, new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 2 }))
                {
                    try
                    {
                        if (UmlDiskState.Read(Path.GetDirectoryName(file)!).Base is { } b)
                        {
                            used.Add(b);
                        }
                    }
                    catch (Exception ex) when (ex is IOException or JsonException)
                    {
                        return; // unreadable: keep every base
                    }
                }
            }

            foreach (var b in Directory.EnumerateFiles(BasesDirectory, "*.ext4"))
            {
                if (!used.Contains(b))
                {
                    File.Delete(b);
                }
            }
        }
        finally
        {
            BaseGate.Release();
        }
    }

    private async Task CheckAsync(string file, CancellationToken cancellationToken)
    {
        // resize2fs wants a freshly checked filesystem; e2fsck exits 1 when it fixed something harmless.
        var fsck = await runner.RunAsync("e2fsck", ["-f", "-p", file], new ProcessRunOptions(TimeSpan.FromMinutes(10)), cancellationToken);
        if (fsck.ExitCode is not (0 or 1))
        {
            fsck.ThrowIfFailed();
        }
    }

    private async Task OwnAsync(string file, uint uid, CancellationToken cancellationToken)
    {
        var id = uid.ToString(CultureInfo.InvariantCulture);
        (await runner.RunAsync("chown", [$"{id}:{id}", file], null, cancellationToken)).ThrowIfFailed();
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
