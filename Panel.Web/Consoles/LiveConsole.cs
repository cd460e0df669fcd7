using System.Text;
using System.Threading.Channels;
using Panel.Core.Services;
using Panel.Hypervisor.Consoles;

namespace Panel.Web.Consoles;

/// <summary>
/// One open console of one hub connection: the guest's session, a pump that decodes its bytes
/// (UTF-8, sequences split across reads kept whole) into the output channel the browser streams,
/// and the writer of keystrokes. Its id is random and bound to the connection that opened it.
/// </summary>
public sealed class LiveConsole : IAsyncDisposable
{
    private readonly IConsoleSession session;
    private readonly Channel<string> output = Channel.CreateBounded<string>(new BoundedChannelOptions(256) { SingleReader = true, SingleWriter = true });
    private readonly SemaphoreSlim writing = new(1, 1);
    private readonly CancellationTokenSource stop = new();
    private readonly Task pump;
    private readonly TaskCompletionSource firstOutput = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long chunks;
    private int streaming;
    private int disposed;
    private long checkedAt;

    /// <summary>Starts pumping <paramref name="opened"/>'s output.</summary>
    public LiveConsole(string connectionId, Actor actor, OpenedConsole opened, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(opened);
        Id = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        ConnectionId = connectionId;
        Actor = actor;
        VpsId = opened.Target.VpsId;
        Hostname = opened.Target.Hostname;
        session = opened.Session;
        Clock = clock;
        checkedAt = clock.GetTimestamp();
        pump = Task.Run(PumpAsync);
    }

    /// <summary>The session id handed to the browser.</summary>
    public string Id { get; }

    /// <summary>The hub connection that opened it (the only one that may use it).</summary>
    public string ConnectionId { get; }

    /// <summary>Who opened it.</summary>
    public Actor Actor { get; }

    /// <summary>The VPS.</summary>
    public int VpsId { get; }

    /// <summary>The VPS's host name.</summary>
    public string Hostname { get; }

    /// <summary>Completes when the guest's console ended (or the console was closed).</summary>
    public Task Ended => pump;

    private TimeProvider Clock { get; }

    /// <summary>Whether the caller's right to it was last checked longer than <paramref name="interval"/> ago.</summary>
    public bool CheckDue(TimeSpan interval) => Clock.GetElapsedTime(Interlocked.Read(ref checkedAt)) >= interval;

    /// <summary>Records that the caller's right to it was checked now.</summary>
    public void Checked() => Interlocked.Exchange(ref checkedAt, Clock.GetTimestamp());

    /// <summary>The output, for the one stream that reads it; null when it is already being read.</summary>
    public ChannelReader<string>? TakeOutput() => Interlocked.Exchange(ref streaming, 1) == 0 ? output.Reader : null;

    /// <summary>Writes keystrokes to the guest.</summary>
    public async Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await writing.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
            await session.Stream.WriteAsync(data, cancellationToken);
            await session.Stream.FlushAsync(cancellationToken);
        }
        finally
        {
            writing.Release();
        }
    }

    /// <summary>
    /// Sends one newline so the guest's getty or shell prints its prompt at once: after the console
    /// printed something and then been quiet for 300 ms (lxc-console's banner comes once it has set up
    /// its terminal, which drops input typed earlier) or after a second of silence (a serial line or pts says nothing until
    /// asked); again every three seconds while nothing comes back, up to five times.
    /// </summary>
    public async Task WakeAsync()
    {
        try
        {
            var token = stop.Token;
            await Task.WhenAny(firstOutput.Task, Task.Delay(TimeSpan.FromSeconds(1), token));
            // lxc-console may print its banner in more than one piece: a piece after the first newline
            // would look like the guest's answer, and a newline typed before its terminal is set up is
            // lost. So wait until the console has been quiet for 300 ms first (at most 3 s).
            for (var (i, seen) = (0, Interlocked.Read(ref chunks)); i < 10; i++)
            {
                await Task.Delay(300, token);
                var now = Interlocked.Read(ref chunks);
                if (now == seen)
                {
                    break;
                }

                seen = now;
            }

            // A guest that has just booted may not run its getty yet: ask again every 3 s until it answers (at most 5 times).
            for (var attempt = 0; attempt < 5; attempt++)
            {
                var before = Interlocked.Read(ref chunks);
                await WriteAsync("\r"u8.ToArray(), token);
                await Task.Delay(TimeSpan.FromSeconds(3), token);
                if (Interlocked.Read(ref chunks) != before)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or IOException)
        {
            // closed meanwhile
        }
    }

    /// <summary>Tells the guest the terminal's new size.</summary>
    public void Resize(int columns, int rows)
    {
        if (Volatile.Read(ref disposed) == 0)
        {
            session.Resize(Math.Clamp(columns, 10, Core.Consoles.LocalConsoleBroker.MaxColumns), Math.Clamp(rows, 5, Core.Consoles.LocalConsoleBroker.MaxRows));
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await stop.CancelAsync();
        output.Writer.TryComplete();
        // Ends the guest-side program (lxc-console, the pts or socket line); its read then fails and the pump ends.
        await session.DisposeAsync();
        await Task.WhenAny(pump, Task.Delay(3000));
        stop.Dispose();
        writing.Dispose();
    }

    private async Task PumpAsync()
    {
        var decoder = new UTF8Encoding(false).GetDecoder();
        var bytes = new byte[16 * 1024];
        var chars = new char[bytes.Length + 4];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var n = await session.Stream.ReadAsync(bytes, stop.Token);
                if (n == 0)
                {
                    break;
                }

                Interlocked.Increment(ref chunks);
                firstOutput.TrySetResult();
                var count = decoder.GetChars(bytes, 0, n, chars, 0, flush: false);
                if (count > 0)
                {
                    await output.Writer.WriteAsync(new string(chars, 0, count), stop.Token);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or ChannelClosedException)
        {
            // The console ended (the guest stopped, lxc-console exited) or it was closed.
        }

        output.Writer.TryComplete();
    }
}
