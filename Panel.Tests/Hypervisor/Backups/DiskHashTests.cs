using System.Security.Cryptography;
using Panel.Hypervisor.Backups;

namespace Panel.Tests.Hypervisor.Backups;

/// <summary>The disk content hash of backups (format 2), on real sparse files in /tmp.</summary>
public sealed class DiskHashTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("vpspanel-diskhash-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task The_hash_is_the_sha256_of_the_block_digests_whatever_is_stored_as_holes()
    {
        const long size = (3L * DiskHash.BlockSize) + 12_345; // a short last block
        var sparse = Path.Combine(dir, "sparse.img");
        await using (var f = new FileStream(sparse, FileMode.CreateNew))
        {
            f.SetLength(size); // all hole
            f.Position = DiskHash.BlockSize + 100;
            f.Write("written"u8);
            f.Position = size - 3;
            f.Write("end"u8);
        }

        // The same content with every byte stored (no holes).
        var dense = Path.Combine(dir, "dense.img");
        var content = await File.ReadAllBytesAsync(sparse);
        await File.WriteAllBytesAsync(dense, content);
        new FileInfo(sparse).Length.ShouldBe(size);

        // The reference: sha256 over the sha256 of each 1 MiB block, computed here from the bytes.
        using var reference = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (var offset = 0; offset < content.Length; offset += DiskHash.BlockSize)
        {
            reference.AppendData(SHA256.HashData(content.AsSpan(offset, Math.Min(DiskHash.BlockSize, content.Length - offset))));
        }

        var expected = Convert.ToHexStringLower(reference.GetHashAndReset());
        (await DiskHash.ComputeAsync(sparse, CancellationToken.None)).ShouldBe(expected);
        (await DiskHash.ComputeAsync(dense, CancellationToken.None)).ShouldBe(expected);

        // One changed byte inside what was a hole changes it.
        await using (var f = new FileStream(sparse, FileMode.Open))
        {
            f.Position = 2L * DiskHash.BlockSize + 7;
            f.WriteByte(1);
        }

        (await DiskHash.ComputeAsync(sparse, CancellationToken.None)).ShouldNotBe(expected);
    }

    [Fact]
    public async Task A_large_sparse_disk_is_hashed_without_reading_its_holes()
    {
        var disk = Path.Combine(dir, "big.img");
        await using (var f = new FileStream(disk, FileMode.CreateNew))
        {
            f.SetLength(64L << 30); // 64 GiB apparent, a few bytes stored
            f.Position = 10L << 30;
            f.Write("data"u8);
        }

        var sw = System.Diagnostics.Stopwatch.StartNew();
        var hash = await DiskHash.ComputeAsync(disk, CancellationToken.None);
        sw.Stop();
        hash.Length.ShouldBe(64);
        // Reading 64 GiB of zeros takes about a minute here; skipping the holes takes well under a few seconds.
        sw.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(10), $"hashed in {sw.Elapsed}");
    }
}
