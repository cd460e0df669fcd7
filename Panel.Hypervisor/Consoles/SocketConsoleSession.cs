using System.Net.Sockets;

namespace Panel.Hypervisor.Consoles;

/// <summary>
/// A guest console served on a Unix socket (QEMU's <c>-chardev socket,server=on</c> behind the
/// guest's serial port). A serial line has no window size, so <see cref="Resize"/> does nothing;
/// the guest's getty assumes 80x24 until the user runs <c>stty</c>. QEMU serves one client at a
/// time: a second session waits until the first one closes.
/// </summary>
public sealed class SocketConsoleSession : IConsoleSession
{
    private readonly Socket socket;
    private readonly TaskCompletionSource closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SocketConsoleSession(Socket socket)
    {
        this.socket = socket;
        Stream = new WatchedStream(new NetworkStream(socket, ownsSocket: false), closed);
    }

    /// <inheritdoc />
    public Stream Stream { get; }

    /// <inheritdoc />
    public Task Completion => closed.Task;

    /// <summary>Connects to the console socket.</summary>
    public static async Task<SocketConsoleSession> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            return new SocketConsoleSession(socket);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new EngineException(EngineErrorCode.HostFailure, $"cannot reach the guest console at {path}: {ex.Message}", null, ex);
        }
    }

    /// <inheritdoc />
    public void Resize(int columns, int rows)
    {
        // A serial console carries no window size.
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        closed.TrySetResult();
        Stream.Dispose();
        socket.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Completes the session when the guest side closes (a read returns 0 or fails).</summary>
    private sealed class WatchedStream(Stream inner, TaskCompletionSource closed) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => Watch(() => inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                var n = await inner.ReadAsync(buffer, cancellationToken);
                if (n == 0)
                {
                    closed.TrySetResult();
                }

                return n;
            }
            catch (IOException)
            {
                closed.TrySetResult();
                throw;
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private int Watch(Func<int> read)
        {
            try
            {
                var n = read();
                if (n == 0)
                {
                    closed.TrySetResult();
                }

                return n;
            }
            catch (IOException)
            {
                closed.TrySetResult();
                throw;
            }
        }
    }
}
