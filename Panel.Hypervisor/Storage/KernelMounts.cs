using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Panel.Hypervisor.Storage;

/// <summary>
/// Loop and overlay mounts straight through the kernel (mount(2), the loop ioctls) rather than by
/// running <c>mount</c>: a VPS start spends its time in LXC, not in forking helpers.
/// </summary>
public static partial class KernelMounts
{
    private const int ORdWr = 2, OCloExec = 0x80000;
    private const ulong LoopCtlGetFree = 0x4C82, LoopConfigure = 0x4C0A;
    private const uint LoFlagsAutoclear = 4;
    private const ulong MsNoAtime = 1024;
    private const int Ebusy = 16;

    /// <summary>Attaches <paramref name="file"/> to a free loop device (released automatically at unmount) and mounts its ext4 on <paramref name="target"/>.</summary>
    public static void MountLoopExt4(string file, string target)
    {
        var fileFd = Open(file);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var ctl = Open("/dev/loop-control");
                var n = ioctl(ctl, LoopCtlGetFree, 0);
                var err = Marshal.GetLastPInvokeError();
                _ = close(ctl);
                if (n < 0)
                {
                    throw Fail("LOOP_CTL_GET_FREE", err);
                }

                var device = FormattableString.Invariant($"/dev/loop{n}");
                var loopFd = Open(device);
                try
                {
                    var config = new LoopConfig { Fd = (uint)fileFd, Flags = LoFlagsAutoclear };
                    if (ioctl(loopFd, LoopConfigure, ref config) != 0)
                    {
                        err = Marshal.GetLastPInvokeError();
                        if (err == Ebusy && attempt < 10)
                        {
                            continue; // another process took this device between the two calls
                        }

                        throw Fail($"LOOP_CONFIGURE {device}", err);
                    }

                    if (mount(device, target, "ext4", MsNoAtime, null) != 0)
                    {
                        throw Fail($"mount {device} on {target}", Marshal.GetLastPInvokeError());
                    }

                    return;
                }
                finally
                {
                    // With autoclear the device detaches when the last user (the mount) goes away.
                    _ = close(loopFd);
                }
            }
        }
        finally
        {
            _ = close(fileFd);
        }
    }

    /// <summary>Mounts an overlay of <paramref name="lower"/> (read-only) and <paramref name="upper"/> on <paramref name="target"/>.</summary>
    public static void MountOverlay(string lower, string upper, string work, string target)
    {
        var data = $"lowerdir={lower},upperdir={upper},workdir={work}";
        if (mount("overlay", target, "overlay", 0, data) != 0)
        {
            throw Fail($"overlay mount on {target}", Marshal.GetLastPInvokeError());
        }
    }

    private static int Open(string path)
    {
        var fd = open(path, ORdWr | OCloExec);
        return fd >= 0 ? fd : throw Fail($"open {path}", Marshal.GetLastPInvokeError());
    }

    private static EngineException Fail(string what, int errno)
        => new(EngineErrorCode.HostFailure, $"{what} failed: {new Win32Exception(errno).Message}");

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct LoopConfig
    {
        public uint Fd;
        public uint BlockSize;

        // struct loop_info64
        public ulong Device;
        public ulong Inode;
        public ulong RDevice;
        public ulong Offset;
        public ulong SizeLimit;
        public uint Number;
        public uint EncryptType;
        public uint EncryptKeySize;
        public uint Flags;
        public fixed byte FileName[64];
        public fixed byte CryptName[64];
        public fixed byte EncryptKey[32];
        public fixed ulong Init[2];

        public fixed ulong Reserved[8];
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, int arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, ref LoopConfig config);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int mount(string source, string target, string fsType, ulong flags, string? data);
}
