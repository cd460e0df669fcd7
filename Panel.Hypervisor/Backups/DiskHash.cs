using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Panel.Hypervisor.Backups;

/// <summary>
/// The content hash of a disk file (backup format 2): the sha256 of the concatenated sha256 digests
/// of its 1 MiB blocks, the last block as long as the file leaves it. Holes read as zeros, so the hash
/// depends on the content only, not on which zeros are stored; blocks the file system reports as
/// holes (<c>SEEK_DATA</c>) are not read at all - a 5 GiB disk with 40 MiB written costs 40 MiB of
/// reading and hashing, not 5 GiB.
/// </summary>
public static partial class DiskHash
{
    /// <summary>The block size.</summary>
    public const int BlockSize = 1 << 20;

    private const int SeekData = 3;
    private const int Enxio = 6;
    private static readonly byte[] ZeroBlockDigest = SHA256.HashData(new byte[BlockSize]);

    /// <summary>The lower-case hex content hash of <paramref name="file"/>.</summary>
    public static async Task<string> ComputeAsync(string file, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        var size = RandomAccess.GetLength(handle);
        using var outer = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[BlockSize];
        var nextData = -1L; // the first offset at or after the current block that holds data (long.MaxValue: none)
        for (long offset = 0; offset < size; offset += BlockSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var length = (int)Math.Min(BlockSize, size - offset);
            if (nextData < offset)
            {
                nextData = NextData(handle, offset);
            }

            if (nextData >= offset + length)
            {
                outer.AppendData(length == BlockSize ? ZeroBlockDigest : SHA256.HashData(new byte[length]));
                continue;
            }

            var read = 0;
            while (read < length)
            {
                var n = await RandomAccess.ReadAsync(handle, buffer.AsMemory(read, length - read), offset + read, cancellationToken);
                if (n == 0)
                {
                    throw new IOException($"{file} shrank while it was hashed");
                }

                read += n;
            }

            outer.AppendData(SHA256.HashData(buffer.AsSpan(0, length)));
        }

        return Convert.ToHexStringLower(outer.GetHashAndReset());
    }

    /// <summary>The first offset at or after <paramref name="offset"/> holding data; long.MaxValue when only a hole follows.</summary>
    private static long NextData(SafeFileHandle handle, long offset)
    {
        var r = lseek((int)handle.DangerousGetHandle(), offset, SeekData);
        if (r >= 0)
        {
            return r;
        }

        var errno = Marshal.GetLastPInvokeError();
        // ENXIO: no data after offset. A file system without SEEK_DATA support reports everything as data.
        return errno == Enxio ? long.MaxValue : offset;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(int fd, long offset, int whence);
}
