namespace Panel.Web.Edge;

/// <summary>
/// A pass-through stream that counts the bytes read from and written to it (a site's traffic at the edge), and
/// optionally keeps a copy of what is written up to <paramref name="captureLimit"/> bytes (for the edge's cache).
/// </summary>
internal sealed class CountingStream(Stream inner, int captureLimit = 0) : Stream
{
    private long bytes;
    private MemoryStream? capture = captureLimit > 0 ? new MemoryStream() : null;

    /// <summary>What was written, when it was captured whole (null: not asked for, or over the limit).</summary>
    public byte[]? Captured => capture?.ToArray();

    /// <summary>Bytes read or written so far.</summary>
    public long Bytes => Interlocked.Read(ref bytes);

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => Count(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        Count(count);
        Capture(buffer.AsSpan(offset, count));
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken);
        Count(buffer.Length);
        Capture(buffer.Span);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Capture(ReadOnlySpan<byte> written)
    {
        if (capture is null)
        {
            return;
        }

        if (capture.Length + written.Length > captureLimit)
        {
            capture = null; // too big to keep
            return;
        }

        capture.Write(written);
    }

    private int Count(int n)
    {
        Interlocked.Add(ref bytes, n);
        return n;
    }
}
