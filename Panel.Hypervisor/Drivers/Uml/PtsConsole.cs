using Panel.Hypervisor.Consoles;

namespace Panel.Hypervisor.Drivers.Uml;

/// <summary>A web-terminal session on a UML guest's console line (<c>con0</c>, a pts the guest kernel holds).</summary>
internal sealed class PtsConsole : IConsoleSession
{
    private readonly PtsChannel channel;
    private readonly TaskCompletionSource closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PtsConsole(PtsChannel channel, int columns, int rows)
    {
        this.channel = channel;
        channel.Resize(columns, rows);
        Stream = new PtsStream(this);
    }

    /// <inheritdoc />
    public Stream Stream { get; }

    /// <inheritdoc />
    public Task Completion => closed.Task;

    /// <inheritdoc />
    public void Resize(int columns, int rows) => channel.Resize(columns, rows);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        closed.TrySetResult();
        channel.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The terminal's bytes: reads wait (in 100 ms polls, so disposal and cancellation are seen) for the guest's output.</summary>
    private sealed class PtsStream(PtsConsole owner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (!owner.closed.Task.IsCompleted)
            {
                var n = owner.channel.Read(buffer, TimeSpan.FromMilliseconds(100));
                if (n > 0)
                {
                    return n;
                }

                if (n < 0)
                {
                    owner.closed.TrySetResult(); // the guest stopped: its console is gone
                }
            }

            return 0;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var chunk = new byte[Math.Min(buffer.Length, 4096)];
            while (!owner.closed.Task.IsCompleted)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var n = await Task.Run(() => owner.channel.Read(chunk, TimeSpan.FromMilliseconds(100)), CancellationToken.None);
                if (n > 0)
                {
                    chunk.AsSpan(0, n).CopyTo(buffer.Span);
                    return n;
                }

                if (n < 0)
                {
                    owner.closed.TrySetResult();
                }
            }

            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => owner.channel.Write(buffer.AsSpan(offset, count), TimeSpan.FromSeconds(10));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            owner.channel.Write(buffer.Span, TimeSpan.FromSeconds(10));
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
