using System.Text;
using Panel.Hypervisor.Consoles;

namespace Panel.Tests.Infrastructure;

/// <summary>Reads a console session in the background and lets a test wait for text, as a person watching the screen would.</summary>
public sealed class ConsoleReader : IAsyncDisposable
{
    private readonly IConsoleSession session;
    private readonly StringBuilder seen = new();
    private readonly CancellationTokenSource stop = new();
    private readonly Task pump;

    /// <summary>Starts reading <paramref name="session"/>.</summary>
    public ConsoleReader(IConsoleSession session)
    {
        this.session = session;
        pump = Task.Run(PumpAsync);
    }

    /// <summary>Everything read so far.</summary>
    public string Text
    {
        get
        {
            lock (seen)
            {
                return seen.ToString();
            }
        }
    }

    /// <summary>Types text (use \r for Enter).</summary>
    public async Task TypeAsync(string text)
    {
        await session.Stream.WriteAsync(Encoding.UTF8.GetBytes(text));
        await session.Stream.FlushAsync();
    }

    /// <summary>Waits until <paramref name="text"/> appears after position <paramref name="from"/>; returns the position after it.</summary>
    public async Task<int> WaitForAsync(string text, int from = 0, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            var current = Text;
            var i = current.IndexOf(text, Math.Min(from, current.Length), StringComparison.Ordinal);
            if (i >= 0)
            {
                return i + text.Length;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"'{text}' did not appear on the console; it shows:\n{Text}");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await session.DisposeAsync();
        await Task.WhenAny(pump, Task.Delay(3000));
        stop.Dispose();
    }

    private async Task PumpAsync()
    {
        var buffer = new byte[4096];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var n = await session.Stream.ReadAsync(buffer, stop.Token);
                if (n == 0)
                {
                    return;
                }

                lock (seen)
                {
                    seen.Append(Encoding.UTF8.GetString(buffer, 0, n));
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // the pty closed
        }
    }
}
