using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Hangfire;
using Panel.Core;
using Panel.Core.Hosting;
using Panel.Core.Jobs.Hosting;

namespace Panel.Web.Edge;

/// <summary>
/// The SFTP gateway: one TCP listener per hosting space on <c>Panel:Edge:SftpAddress</c> and the space's port
/// (<c>hosting_spaces.sftp_port</c>), each forwarding connections to port 22 of the space's container on the
/// bridge, where sshd serves SFTP only (chrooted, the tenant's keys or password). It carries bytes only: the
/// SSH session - authentication included - is end to end between the customer and their container, so the
/// panel holds no key of theirs. Reloaded with the edge (<see cref="EdgeSignal"/> and every <c>ReloadSeconds</c>):
/// a new space's port opens, a removed space's closes, and while a container does not run (stopped, suspended)
/// its port closes connections at once and the ones open are cut. When a session ends, the space's content is
/// measured again on the node's queue (<see cref="HostingContentJob"/>): what the customer uploaded shows at once.
/// </summary>
public sealed class SftpGateway(EdgeDirectory directory, EdgeSignal signal, IBackgroundJobClient jobs, PanelOptions options, ILogger<SftpGateway> logger)
    : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan MeasureDelay = TimeSpan.FromSeconds(2);
    private readonly SemaphoreSlim reloadLock = new(1, 1);
    private readonly Dictionary<int, Listener> listeners = [];
    private readonly ConcurrentDictionary<int, byte> measuring = new();
    private readonly CancellationTokenSource stopping = new();
    private Task? background;

    /// <summary>The ports listening now and where each forwards (null: closed to connections), for status and tests.</summary>
    public IReadOnlyDictionary<int, string?> Ports
    {
        get
        {
            lock (listeners)
            {
                return listeners.ToDictionary(l => l.Key, l => l.Value.Destination);
            }
        }
    }

    private int disposed;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(options.Edge.SftpAddress))
        {
            return;
        }

        try
        {
            await ReloadAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("sftp gateway: first load failed: {Message}", ex.Message);
        }

        signal.Changed += OnChanged;
        background = Task.Run(() => BackgroundAsync(stopping.Token), CancellationToken.None);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        signal.Changed -= OnChanged;
        await stopping.CancelAsync();
        if (background is not null)
        {
            await background;
        }

        lock (listeners)
        {
            foreach (var l in listeners.Values)
            {
                l.Dispose();
            }

            listeners.Clear();
        }
    }

    /// <summary>Reads the spaces again: opens, retargets and closes ports to match.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        var address = IPAddress.Parse(options.Edge.SftpAddress);
        await reloadLock.WaitAsync(cancellationToken);
        try
        {
            var routes = await directory.LoadSftpAsync(cancellationToken);
            lock (listeners)
            {
                var wanted = routes.Where(r => r.Port is > 0 and <= 65535).ToDictionary(r => r.Port);
                foreach (var port in listeners.Keys.Where(p => !wanted.ContainsKey(p)).ToList())
                {
                    listeners[port].Dispose();
                    listeners.Remove(port);
                }

                foreach (var (port, route) in wanted)
                {
                    if (listeners.TryGetValue(port, out var existing))
                    {
                        existing.SpaceId = route.SpaceId;
                        existing.Retarget(route.Destination);
                        continue;
                    }

                    var tcp = new TcpListener(address, port);
                    try
                    {
                        tcp.Start();
                    }
                    catch (SocketException ex)
                    {
                        logger.LogWarning("sftp gateway: cannot listen on {Address}:{Port} for hosting space {Space}: {Message}", address, port, route.SpaceId, ex.Message);
                        continue;
                    }

                    var listener = new Listener(tcp, logger, SessionEnded) { SpaceId = route.SpaceId };
                    listener.Retarget(route.Destination);
                    listener.Run(stopping.Token);
                    listeners[port] = listener;
                }
            }
        }
        finally
        {
            reloadLock.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // The container disposes it once per registration (the gateway and the hosted service): the second is a no-op.
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await StopAsync(CancellationToken.None);
        stopping.Dispose();
        reloadLock.Dispose();
    }

    /// <summary>
    /// Queues one measure of the space a moment after its session ended; sessions that end meanwhile share it, so a
    /// flood of connections makes one job per space every <see cref="MeasureDelay"/> at most.
    /// </summary>
    private void SessionEnded(int spaceId)
    {
        if (!measuring.TryAdd(spaceId, 0))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(MeasureDelay, stopping.Token);
                measuring.TryRemove(spaceId, out _); // first: a session that ends from now on queues another
                HostingContentJob.Enqueue(jobs, spaceId, options.Jobs.NodeName);
            }
            catch (OperationCanceledException)
            {
                // stopping: the recurring measure catches up
            }
            catch (Exception ex)
            {
                logger.LogWarning("sftp gateway: cannot queue the measure of hosting space {Space}: {Message}", spaceId, ex.Message);
            }
        }, CancellationToken.None);
    }

    private void OnChanged() => _ = Task.Run(async () =>
    {
        try
        {
            await ReloadAsync(stopping.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("sftp gateway: reload failed: {Message}", ex.Message);
        }
    });

    private async Task BackgroundAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, options.Edge.ReloadSeconds)));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await ReloadAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning("sftp gateway: reload failed: {Message}", ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    /// <summary>One space's port: accepts, and pipes each connection to the container's port 22 while it has a destination.</summary>
    private sealed class Listener(TcpListener tcp, ILogger logger, Action<int> sessionEnded) : IDisposable
    {
        /// <summary>The hosting space the port belongs to now.</summary>
        public int SpaceId { get; set; }

        private readonly CancellationTokenSource closed = new();
        private CancellationTokenSource connections = new();

        public string? Destination { get; private set; }

        /// <summary>Points new connections at another address; none (or another one) cuts the connections open now.</summary>
        public void Retarget(string? destination)
        {
            if (destination == Destination)
            {
                return;
            }

            Destination = destination;
            var old = Interlocked.Exchange(ref connections, new CancellationTokenSource());
            old.Cancel();
            old.Dispose();
        }

        public void Run(CancellationToken stopping) => _ = Task.Run(() => AcceptAsync(stopping), CancellationToken.None);

        public void Dispose()
        {
            closed.Cancel();
            tcp.Stop();
            connections.Cancel();
            closed.Dispose();
        }

        private async Task AcceptAsync(CancellationToken stopping)
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(stopping, closed.Token);
            while (!both.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await tcp.AcceptSocketAsync(both.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                var destination = Destination;
                if (destination is null)
                {
                    client.Dispose(); // the container does not run: nothing to reach
                    continue;
                }

                CancellationToken token;
                try
                {
                    token = connections.Token;
                }
                catch (ObjectDisposedException)
                {
                    client.Dispose();
                    continue;
                }

                _ = Task.Run(() => PipeAsync(client, destination, token), CancellationToken.None);
            }
        }

        private async Task PipeAsync(Socket client, string destination, CancellationToken cancellationToken)
        {
            var reached = false;
            using (client)
            using (var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                try
                {
                    using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                    {
                        connect.CancelAfter(TimeSpan.FromSeconds(5));
                        await upstream.ConnectAsync(IPAddress.Parse(destination), 22, connect.Token);
                    }

                    reached = true;

                    client.NoDelay = true;
                    upstream.NoDelay = true;
                    await using var a = new NetworkStream(client, ownsSocket: false);
                    await using var b = new NetworkStream(upstream, ownsSocket: false);
                    using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var up = a.CopyToAsync(b, done.Token);
                    var down = b.CopyToAsync(a, done.Token);
                    await Task.WhenAny(up, down);
                    await done.CancelAsync(); // one side closed: the session is over
                    await Task.WhenAll(up.ContinueWith(_ => { }, TaskScheduler.Default), down.ContinueWith(_ => { }, TaskScheduler.Default));
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException)
                {
                    logger.LogDebug("sftp gateway: connection to {Destination} ended: {Message}", destination, ex.Message);
                }
            }

            if (reached)
            {
                sessionEnded(SpaceId); // whatever the session changed in the space's files shows in its figures
            }
        }
    }
}
