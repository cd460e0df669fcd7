using System.Collections.Concurrent;
using System.Globalization;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Storage;

/// <summary>
/// Ready-made empty disks: a few sparse ext4 files per recently used size, formatted in the
/// background, so creating a VPS takes one (a rename) instead of waiting for mkfs. Each file is
/// formatted on its own (its own UUID). The pool lives on the same filesystem as the instances.
/// </summary>
public sealed class DiskPool(string directory, IProcessRunner runner, int perSize = 2, int maxFiles = 8, TimeSpan? refillDelay = null)
{
    // Refills wait a moment, so formatting never competes with the start that just took a disk.
    private readonly TimeSpan delay = refillDelay ?? TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<long, Task> refills = new();
    private readonly Lock take = new();

    /// <summary>Moves a ready disk of exactly <paramref name="sizeBytes"/> to <paramref name="target"/>; false when none is ready.</summary>
    public bool TryTake(long sizeBytes, string target)
    {
        try
        {
            lock (take)
            {
                var dir = SizeDir(sizeBytes);
                var ready = Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*.img").FirstOrDefault() : null;
                if (ready is null)
                {
                    return false;
                }

                File.Move(ready, target);
                return true;
            }
        }
        finally
        {
            Refill(sizeBytes);
        }
    }

    /// <summary>Starts formatting disks of this size in the background until <c>perSize</c> are ready.</summary>
    public void Refill(long sizeBytes)
    {
        if (refills.TryGetValue(sizeBytes, out var running) && !running.IsCompleted)
        {
            return;
        }

        refills[sizeBytes] = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(delay);
                await FillAsync(sizeBytes);
            }
#pragma warning disable CA1031 // The pool is an optimisation: a failed refill only means the next create formats its own disk.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        });
    }

    /// <summary>Waits for running refills (tests and benchmarks use it to measure a warm pool).</summary>
    public Task IdleAsync() => Task.WhenAll(refills.Values);

    /// <summary>Formats a sparse ext4 file of <paramref name="sizeBytes"/> at <paramref name="path"/> (no reserved blocks).</summary>
    public static async Task FormatAsync(IProcessRunner runner, string path, long sizeBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runner);
        await using (var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            f.SetLength(sizeBytes);
        }

        var mkfs = await runner.RunAsync("mkfs.ext4", ["-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", "-L", "vpsdisk", path], null, cancellationToken);
        mkfs.ThrowIfFailed();
    }

    private async Task FillAsync(long sizeBytes)
    {
        var dir = SizeDir(sizeBytes);
        Directory.CreateDirectory(dir);
        Evict();
        while (Directory.EnumerateFiles(dir, "*.img").Count() < perSize)
        {
            var tmp = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".partial");
            try
            {
                await FormatAsync(runner, tmp, sizeBytes, CancellationToken.None);
                File.Move(tmp, Path.ChangeExtension(tmp, ".img"));
            }
            finally
            {
                File.Delete(tmp);
            }
        }
    }

    private void Evict()
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        // Keep the pool small: drop the oldest ready disks beyond the cap (sizes nobody asks for any more).
        var files = Directory.EnumerateFiles(directory, "*.img", SearchOption.AllDirectories)
            .Select(f => new FileInfo(f)).OrderBy(f => f.CreationTimeUtc).ToList();
        foreach (var f in files.Take(Math.Max(0, files.Count - maxFiles)))
        {
            f.Delete();
        }
    }

    private string SizeDir(long sizeBytes) => Path.Combine(directory, sizeBytes.ToString(CultureInfo.InvariantCulture));
}
