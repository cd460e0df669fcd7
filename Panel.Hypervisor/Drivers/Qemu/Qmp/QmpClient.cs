using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;

namespace Panel.Hypervisor.Drivers.Qemu.Qmp;

/// <summary>
/// A client for one QEMU Machine Protocol monitor (QEMU's <c>-qmp unix:PATH,server=on,wait=off</c>).
/// One background loop reads every message QEMU sends: answers are matched to their command by
/// <c>id</c>, so several commands may be in flight at once, and asynchronous events go to
/// <see cref="Events"/>. This file is the transport; the typed commands are in
/// <c>QmpClient.Commands.cs</c>, and <see cref="ExecuteAsync{T}"/> runs any other command.
/// </summary>
public sealed partial class QmpClient : IAsyncDisposable
{
    /// <summary>How many unread events are kept; beyond that the oldest are dropped.</summary>
    public const int EventBacklog = 1024;

    private static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    private readonly Socket socket;
    private readonly StreamReader reader;
    private readonly NetworkStream stream;
    private readonly SemaphoreSlim writeLock = new(1, 1);
    private readonly Lock gate = new();
    private readonly Dictionary<long, PendingCommand> pending = [];
    private readonly CancellationTokenSource stopReading = new();
    private readonly Channel<QmpEvent> events = Channel.CreateBounded<QmpEvent>(
        new BoundedChannelOptions(EventBacklog) { FullMode = BoundedChannelFullMode.DropOldest });

    private Task readLoop = Task.CompletedTask;
    private long lastId;
    private string? closedReason;
    private bool disposed;

    private QmpClient(string socketPath, Socket socket)
    {
        SocketPath = socketPath;
        this.socket = socket;
        stream = new NetworkStream(socket, ownsSocket: false);
        reader = new StreamReader(stream, new UTF8Encoding(false));
    }

    /// <summary>The monitor socket.</summary>
    public string SocketPath { get; }

    /// <summary>The QEMU version from the greeting.</summary>
    public QmpVersion ServerVersion { get; private set; } = new(0, 0, 0, string.Empty);

    /// <summary>The optional capabilities QEMU offered in its greeting (e.g. <c>oob</c>); none is enabled.</summary>
    public IReadOnlyList<string> ServerCapabilities { get; private set; } = [];

    /// <summary>How long a command may wait for its answer unless the call gives its own timeout (30 s by default).</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The events QEMU sends (<c>SHUTDOWN</c>, <c>STOP</c>, …), in order. The channel completes when
    /// the connection ends, so a reader also learns that QEMU went away.
    /// </summary>
    public ChannelReader<QmpEvent> Events => events.Reader;

    /// <summary>Whether the connection is still open.</summary>
    public bool IsConnected
    {
        get
        {
            lock (gate)
            {
                return closedReason is null;
            }
        }
    }

    /// <summary>
    /// Connects to a QMP socket, reads QEMU's greeting and leaves capabilities negotiation
    /// (<c>qmp_capabilities</c>), so the monitor accepts commands.
    /// </summary>
    /// <param name="socketPath">The monitor's Unix socket.</param>
    /// <param name="timeout">How long connecting and the handshake may take together.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <exception cref="QmpConnectionException">The socket cannot be reached, or what answers is not a QMP monitor.</exception>
    /// <exception cref="TimeoutException">QEMU did not finish the handshake in time.</exception>
    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        using var deadline = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        QmpClient? client = null;
        var connected = false;
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), linked.Token);
            client = new QmpClient(socketPath, socket);
            await client.HandshakeAsync(linked.Token);
            connected = true;
            return client;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(FormattableString.Invariant($"the QMP monitor at {socketPath} did not complete its handshake within {timeout.TotalSeconds:0.###} s"));
        }
        catch (SocketException ex)
        {
            throw new QmpConnectionException($"cannot connect to the QMP monitor at {socketPath}: {ex.Message}", ex);
        }
        finally
        {
            if (!connected)
            {
                if (client is not null)
                {
                    await client.DisposeAsync();
                }

                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// Runs a command and returns its <c>return</c> value as JSON (<see cref="JsonValueKind.Undefined"/>
    /// if QEMU sent none).
    /// </summary>
    /// <param name="command">The QMP command, e.g. <c>query-status</c>.</param>
    /// <param name="arguments">Its arguments, serialized as a JSON object (a dictionary when names hold dashes); null for none.</param>
    /// <param name="timeout">How long to wait for the answer; <see cref="CommandTimeout"/> when null.</param>
    /// <param name="cancellationToken">Stops waiting (QEMU may still run the command).</param>
    /// <exception cref="QmpException">QEMU answered with an error.</exception>
    /// <exception cref="QmpConnectionException">The connection is closed or closed before the answer came.</exception>
    /// <exception cref="TimeoutException">No answer came in time (a late answer is ignored).</exception>
    public async Task<JsonElement> ExecuteAsync(string command, object? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        var id = Interlocked.Increment(ref lastId);
        var message = Frame(JsonSerializer.SerializeToUtf8Bytes(new QmpRequest(command, arguments, id), Json));
        var waiter = new PendingCommand(command, new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (closedReason is not null)
            {
                throw new QmpConnectionException($"cannot run '{command}': {closedReason}");
            }

            pending.Add(id, waiter);
        }

        var limit = timeout ?? CommandTimeout;
        using var deadline = new CancellationTokenSource(limit);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        try
        {
            await WriteAsync(command, message, linked.Token);
            var reply = await waiter.Answer.Task.WaitAsync(linked.Token);
            if (reply.TryGetProperty("error", out var error))
            {
                throw new QmpException(command, Text(error, "class") ?? QmpException.GenericError, Text(error, "desc") ?? error.GetRawText());
            }

            return reply.TryGetProperty("return", out var value) ? value : default;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(FormattableString.Invariant($"QEMU did not answer '{command}' within {limit.TotalSeconds:0.###} s"));
        }
        finally
        {
            lock (gate)
            {
                pending.Remove(id);
            }
        }
    }

    /// <summary>Runs a command and deserializes its <c>return</c> value into <typeparamref name="T"/>.</summary>
    /// <inheritdoc cref="ExecuteAsync(string, object?, TimeSpan?, CancellationToken)" />
    /// <exception cref="JsonException">The answer does not have the shape of <typeparamref name="T"/>.</exception>
    public async Task<T> ExecuteAsync<T>(string command, object? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var value = await ExecuteAsync(command, arguments, timeout, cancellationToken);
        try
        {
            return value.ValueKind == JsonValueKind.Undefined
                ? throw new JsonException("the answer has no 'return' value")
                : value.Deserialize<T>(Json)!;
        }
        catch (JsonException ex)
        {
            throw new JsonException($"unexpected answer to '{command}' ({typeof(T).Name}): {ex.Message}", ex);
        }
    }

    /// <summary>Closes the connection; commands still waiting fail with <see cref="QmpConnectionException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
        }

        Close("the client was closed", null);
        await stopReading.CancelAsync();
        await readLoop;
        reader.Dispose();
        socket.Dispose();
        stopReading.Dispose();
    }

    private static string? Text(JsonElement obj, string name)
        => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static QmpEvent ParseEvent(JsonElement message)
    {
        var name = Text(message, "event") ?? string.Empty;
        var data = message.TryGetProperty("data", out var d) ? d.Clone() : EmptyObject;
        var at = DateTimeOffset.UtcNow;
        if (message.TryGetProperty("timestamp", out var ts)
            && ts.ValueKind == JsonValueKind.Object
            && ts.TryGetProperty("seconds", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out var seconds) && seconds >= 0
            && ts.TryGetProperty("microseconds", out var us) && us.ValueKind == JsonValueKind.Number && us.TryGetInt64(out var micros) && micros >= 0)
        {
            at = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(micros * TimeSpan.TicksPerMicrosecond);
        }

        return new QmpEvent(name, data, at);
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        var line = await reader.ReadLineAsync(cancellationToken)
            ?? throw new QmpConnectionException($"the QMP monitor at {SocketPath} closed before its greeting");
        try
        {
            using var greeting = JsonDocument.Parse(line);
            if (greeting.RootElement.ValueKind != JsonValueKind.Object || !greeting.RootElement.TryGetProperty("QMP", out var qmp))
            {
                throw new QmpConnectionException($"{SocketPath} is not a QMP monitor: its greeting is {Shorten(line)}");
            }

            if (qmp.TryGetProperty("version", out var version))
            {
                ServerVersion = QmpVersion.Parse(version);
            }

            if (qmp.TryGetProperty("capabilities", out var caps) && caps.ValueKind == JsonValueKind.Array)
            {
                ServerCapabilities = [.. caps.EnumerateArray().Select(c => c.GetString() ?? string.Empty)];
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new QmpConnectionException($"{SocketPath} is not a QMP monitor: its greeting is {Shorten(line)}", ex);
        }

        readLoop = Task.Run(ReadLoopAsync, CancellationToken.None);
        await ExecuteAsync("qmp_capabilities", null, Timeout.InfiniteTimeSpan, cancellationToken);
    }

    private async Task WriteAsync(string command, byte[] message, CancellationToken cancellationToken)
    {
        await writeLock.WaitAsync(cancellationToken);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            await stream.WriteAsync(message, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Part of the command may have gone out: nothing after it could be framed correctly.
            Close($"sending '{command}' was interrupted", null);
            throw;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Close($"sending '{command}' failed: {ex.Message}", ex);
            throw new QmpConnectionException($"cannot send '{command}' to the QMP monitor at {SocketPath}: {ex.Message}", ex);
        }
        finally
        {
            writeLock.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        var reason = "QEMU closed the monitor connection";
        Exception? cause = null;
        try
        {
            while (await reader.ReadLineAsync(stopReading.Token) is { } line)
            {
                if (!string.IsNullOrWhiteSpace(line))
                {
                    Dispatch(line);
                }
            }
        }
        catch (OperationCanceledException)
        {
            reason = "the client was closed";
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            reason = $"reading the monitor failed: {ex.Message}";
            cause = ex;
        }
        catch (JsonException ex)
        {
            reason = $"QEMU sent something that is not JSON: {ex.Message}";
            cause = ex;
        }

        Close(reason, cause);
    }

    /// <summary>Routes one message: an event to the channel, an answer to the command with its id.</summary>
    private void Dispatch(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var message = doc.RootElement;
        if (message.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (message.TryGetProperty("event", out _))
        {
            events.Writer.TryWrite(ParseEvent(message));
            return;
        }

        // An answer without a known id (to a command that timed out, or QEMU's reply to a line it
        // could not parse) has nobody waiting for it and is dropped.
        if (message.TryGetProperty("id", out var idValue) && idValue.ValueKind == JsonValueKind.Number && idValue.TryGetInt64(out var id))
        {
            PendingCommand? waiter;
            lock (gate)
            {
                pending.TryGetValue(id, out waiter);
            }

            waiter?.Answer.TrySetResult(message.Clone());
        }
    }

    /// <summary>Marks the connection closed (the first reason wins) and fails every command still waiting.</summary>
    private void Close(string reason, Exception? cause)
    {
        PendingCommand[] orphans;
        lock (gate)
        {
            if (closedReason is not null)
            {
                return;
            }

            closedReason = reason;
            orphans = [.. pending.Values];
            pending.Clear();
        }

        foreach (var orphan in orphans)
        {
            orphan.Answer.TrySetException(new QmpConnectionException($"'{orphan.Command}' got no answer from the QMP monitor at {SocketPath}: {reason}", cause));
        }

        events.Writer.TryComplete();
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    /// <summary>One message on the wire: the JSON text and a newline.</summary>
    private static byte[] Frame(byte[] json)
    {
        var framed = new byte[json.Length + 1];
        json.CopyTo(framed, 0);
        framed[^1] = (byte)'\n';
        return framed;
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";

    private sealed record QmpRequest(
        [property: JsonPropertyName("execute")] string Execute,
        [property: JsonPropertyName("arguments")] object? Arguments,
        [property: JsonPropertyName("id")] long Id);

    private sealed record PendingCommand(string Command, TaskCompletionSource<JsonElement> Answer);
}
