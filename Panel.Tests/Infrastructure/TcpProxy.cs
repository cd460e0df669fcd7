using System.Net;
using System.Net.Sockets;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// A loopback TCP forwarder that a test can cut and restore, to play "the database went away"
/// without stopping the shared PostgreSQL server.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly IPEndPoint target;
    private readonly List<TcpClient> open = [];
    private TcpListener? listener;
    private CancellationTokenSource? cts;

    /// <summary>Creates a proxy on a free loopback port to <paramref name="targetHost"/>:<paramref name="targetPort"/>.</summary>
    public TcpProxy(string targetHost, int targetPort)
    {
        target = new IPEndPoint(IPAddress.Parse(targetHost == "localhost" ? "127.0.0.1" : targetHost), targetPort);
        Port = PanelProcess.FreePort();
        Resume();
    }

    /// <summary>The port the proxy listens on.</summary>
    public int Port { get; }

    /// <summary>Stops accepting and closes every forwarded connection.</summary>
    public void Cut()
    {
        cts?.Cancel();
        listener?.Stop();
        listener = null;
        lock (open)
        {
            foreach (var c in open)
            {
                c.Dispose();
            }

            open.Clear();
        }
    }

    /// <summary>Accepts connections again on the same port.</summary>
    public void Resume()
    {
        cts = new CancellationTokenSource();
        listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        _ = AcceptLoopAsync(listener, cts.Token);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Cut();
        return ValueTask.CompletedTask;
    }

    private async Task AcceptLoopAsync(TcpListener l, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await l.AcceptTcpClientAsync(token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var outbound = new TcpClient();
            try
            {
                await outbound.ConnectAsync(target, token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                inbound.Dispose();
                outbound.Dispose();
                continue;
            }

            lock (open)
            {
                open.Add(inbound);
                open.Add(outbound);
            }

            _ = PumpAsync(inbound, outbound, token);
            _ = PumpAsync(outbound, inbound, token);
        }
    }

    private static async Task PumpAsync(TcpClient from, TcpClient to, CancellationToken token)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream(), token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or SocketException)
        {
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }
}
