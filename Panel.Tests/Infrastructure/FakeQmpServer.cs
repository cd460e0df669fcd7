using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Panel.Tests.Infrastructure;

/// <summary>A command the fake QMP monitor received.</summary>
/// <param name="Command">The <c>execute</c> name.</param>
/// <param name="Arguments">The <c>arguments</c> object, if any.</param>
/// <param name="Id">The <c>id</c> as raw JSON, echoed in the answer; null when the client sent none.</param>
public sealed record FakeQmpRequest(string Command, JsonElement? Arguments, string? Id);

/// <summary>
/// A stand-in for QEMU's QMP monitor on a Unix socket in a temporary folder. Like QEMU, it sends a
/// greeting, refuses commands until <c>qmp_capabilities</c>, and answers each command with its
/// <c>id</c>. Scripted commands (<see cref="Reply"/>, <see cref="Fail"/>) are answered at once;
/// any other command waits in a queue (<see cref="NextUnansweredAsync"/>) for the test to answer
/// it (<see cref="RespondAsync"/>), in any order, or never.
/// </summary>
public sealed class FakeQmpServer : IAsyncDisposable
{
    /// <summary>The greeting of a Debian QEMU 7.2.</summary>
    public const string DefaultGreeting = """{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}}""";

    private readonly string directory;
    private readonly Socket listener;
    private readonly string? greeting;
    private readonly CancellationTokenSource stop = new();
    private readonly ConcurrentDictionary<string, string> script = new(StringComparer.Ordinal);
    private readonly Channel<FakeQmpRequest> unanswered = Channel.CreateUnbounded<FakeQmpRequest>();
    private readonly List<FakeQmpRequest> received = [];
    private readonly SemaphoreSlim writeLock = new(1, 1);
    private readonly Task acceptLoop;
    private NetworkStream? connection;

    /// <summary>Starts listening.</summary>
    /// <param name="greeting">The greeting line to send on connect; null sends none (a monitor that hangs).</param>
    public FakeQmpServer(string? greeting = DefaultGreeting)
    {
        this.greeting = greeting;
        directory = Directory.CreateTempSubdirectory("panel-qmp-").FullName;
        SocketPath = Path.Combine(directory, "qmp.sock");
        listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(4);
        acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The monitor socket.</summary>
    public string SocketPath { get; }

    /// <summary>Every command received so far, in order (<c>qmp_capabilities</c> included).</summary>
    public IReadOnlyList<FakeQmpRequest> Received
    {
        get
        {
            lock (received)
            {
                return [.. received];
            }
        }
    }

    /// <summary>Answers every later <paramref name="command"/> with <c>{"return": returnJson}</c>.</summary>
    public void Reply(string command, string returnJson) => script[command] = Answer("return", returnJson);

    /// <summary>Answers every later <paramref name="command"/> with <c>{"error": {"class": …, "desc": …}}</c>.</summary>
    public void Fail(string command, string errorClass, string description)
        => script[command] = Answer("error", JsonSerializer.Serialize(new Dictionary<string, string> { ["class"] = errorClass, ["desc"] = description }));

    /// <summary>Waits for the next command that has no scripted answer.</summary>
    public async Task<FakeQmpRequest> NextUnansweredAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await unanswered.Reader.ReadAsync(cts.Token);
    }

    /// <summary>Answers <paramref name="request"/> with <c>{"return": returnJson}</c>.</summary>
    public Task RespondAsync(FakeQmpRequest request, string returnJson) => SendAsync(WithId(Answer("return", returnJson), request.Id));

    /// <summary>Sends an event, as QEMU does between answers.</summary>
    public Task PushEventAsync(string name, string dataJson = "{}", long unixSeconds = 1_700_000_000, int microseconds = 250_000)
        => SendAsync(string.Create(CultureInfo.InvariantCulture, $$$"""{"event": {{{JsonSerializer.Serialize(name)}}}, "data": {{{dataJson}}}, "timestamp": {"seconds": {{{unixSeconds}}}, "microseconds": {{{microseconds}}}}}"""));

    /// <summary>Sends one raw line.</summary>
    public async Task SendAsync(string line)
    {
        var stream = connection ?? throw new InvalidOperationException("no client is connected");
        await writeLock.WaitAsync();
        try
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\r\n"));
        }
        finally
        {
            writeLock.Release();
        }
    }

    /// <summary>Closes the client's connection abruptly, as when QEMU dies.</summary>
    public void DropConnection()
    {
        var stream = Interlocked.Exchange(ref connection, null);
        stream?.Socket.Close(0);
        stream?.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        DropConnection();
        listener.Dispose();
        try
        {
            await acceptLoop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        stop.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    private static string Answer(string kind, string json) => $$"""{"{{kind}}": {{json}}}""";

    private static string WithId(string answer, string? id) => id is null ? answer : $$"""{{answer[..^1]}}, "id": {{id}}}""";

    private async Task AcceptLoopAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(new NetworkStream(client, ownsSocket: true));
        }
    }

    private async Task ServeAsync(NetworkStream stream)
    {
        connection = stream;
        var negotiated = false;
        try
        {
            if (greeting is not null)
            {
                await SendAsync(greeting);
            }

            using var reader = new StreamReader(stream, leaveOpen: true);
            while (await reader.ReadLineAsync(stop.Token) is { } line)
            {
                var request = Parse(line);
                lock (received)
                {
                    received.Add(request);
                }

                if (request.Command == "qmp_capabilities")
                {
                    negotiated = true;
                    await RespondAsync(request, "{}");
                }
                else if (!negotiated)
                {
                    await SendAsync(WithId(Answer("error", """{"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}"""), request.Id));
                }
                else if (script.TryGetValue(request.Command, out var answer))
                {
                    await SendAsync(WithId(answer, request.Id));
                }
                else
                {
                    unanswered.Writer.TryWrite(request);
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            // The connection was dropped.
        }
    }

    private static FakeQmpRequest Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        return new FakeQmpRequest(
            root.GetProperty("execute").GetString()!,
            root.TryGetProperty("arguments", out var arguments) ? arguments.Clone() : null,
            root.TryGetProperty("id", out var id) ? id.GetRawText() : null);
    }
}
