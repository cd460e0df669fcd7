using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;

namespace Panel.Hypervisor.Drivers.Uml;

/// <summary>
/// The host end of a guest console line: the slave side of a pseudo-terminal whose master the
/// UML kernel holds (<c>conN=pts</c>), so the line outlives the engine. Non-blocking reads and
/// writes with <c>poll</c>, so a reader can always be stopped. UML puts the terminal in raw
/// mode (no echo, no line editing, no newline translation).
/// </summary>
internal sealed partial class PtsChannel : IDisposable
{
    private const int ORdWr = 0x2, ONoCtty = 0x100, ONonBlock = 0x800, OCloExec = 0x80000;
    private const short PollIn = 0x1, PollOut = 0x4, PollErr = 0x8, PollHup = 0x10, PollNval = 0x20;
    private const int EAgain = 11, EIntr = 4, EIo = 5;
    private const ulong Tiocswinsz = 0x5414;

    private int fd;

    private PtsChannel(int fd, string path)
    {
        this.fd = fd;
        Path = path;
    }

    /// <summary>The device, e.g. <c>/dev/pts/3</c>.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens a pts device that must belong to <paramref name="ownerUid"/> (the guest kernel's own
    /// host user: the device name comes from the guest kernel, which a guest's root could subvert,
    /// so a name pointing at anybody else's terminal is refused).
    /// </summary>
    public static PtsChannel Open(string path, uint ownerUid)
    {
        if (!path.StartsWith("/dev/pts/", StringComparison.Ordinal) || !int.TryParse(path["/dev/pts/".Length..], out _))
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"'{path}' is not a pseudo-terminal");
        }

        var fd = open(path, ORdWr | ONoCtty | ONonBlock | OCloExec);
        if (fd < 0)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"cannot open {path}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }

        if (Native.FStat(fd) is not { } st || (st.Mode & 0xF000) != 0x2000 || st.Uid != ownerUid)
        {
            _ = close(fd);
            throw new EngineException(EngineErrorCode.HostFailure, $"{path} is not the guest's own terminal; refusing it");
        }

        return new PtsChannel(fd, path);
    }

    /// <summary>Reads what is there, waiting up to <paramref name="wait"/>; 0 bytes on timeout, -1 when the line is gone (the guest stopped).</summary>
    public int Read(Span<byte> buffer, TimeSpan wait)
    {
        var current = Volatile.Read(ref fd);
        if (current < 0)
        {
            return -1;
        }

        var events = Poll(current, PollIn, wait);
        if (events == 0)
        {
            return 0;
        }

        var n = read(current, ref MemoryMarshal.GetReference(buffer), buffer.Length);
        if (n > 0)
        {
            return (int)n;
        }

        if (n == 0)
        {
            return -1;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno is EAgain or EIntr ? 0 : errno == EIo || (events & (PollHup | PollErr | PollNval)) != 0 ? -1 : throw Error("read");
    }

    /// <summary>Writes all of <paramref name="data"/>, waiting while the line is full, up to <paramref name="timeout"/>.</summary>
    public void Write(ReadOnlySpan<byte> data, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (data.Length > 0)
        {
            var current = Volatile.Read(ref fd);
            ObjectDisposedException.ThrowIf(current < 0, this);

            var n = write(current, in MemoryMarshal.GetReference(data), data.Length);
            if (n > 0)
            {
                data = data[(int)n..];
                continue;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (n < 0 && errno is not (EAgain or EIntr))
            {
                throw Error("write");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new EngineException(EngineErrorCode.Timeout, $"the guest does not read its console line {Path}");
            }

            Poll(current, PollOut, TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>Writes text.</summary>
    public void Write(string text, TimeSpan timeout) => Write(Encoding.UTF8.GetBytes(text), timeout);

    /// <summary>Sets the terminal size.</summary>
    public void Resize(int columns, int rows)
    {
        var current = Volatile.Read(ref fd);
        if (current >= 0)
        {
            var ws = new WinSize { Rows = (ushort)Math.Clamp(rows, 1, 1000), Columns = (ushort)Math.Clamp(columns, 1, 1000) };
            _ = ioctl(current, Tiocswinsz, ref ws);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var current = Interlocked.Exchange(ref fd, -1);
        if (current >= 0)
        {
            _ = close(current);
        }
    }

    private static short Poll(int fd, short events, TimeSpan wait)
    {
        var p = new PollFd { Fd = fd, Events = events };
        var r = poll(ref p, 1, (int)Math.Clamp(wait.TotalMilliseconds, 0, int.MaxValue));
        return r > 0 ? p.REvents : (short)0;
    }

    private EngineException Error(string what)
        => new(EngineErrorCode.HostFailure, $"{what} on {Path} failed: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct WinSize
    {
        public ushort Rows;
        public ushort Columns;
        public ushort XPixels;
        public ushort YPixels;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, ref byte buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, in byte buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(ref PollFd fds, nuint count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, ref WinSize ws);
}
