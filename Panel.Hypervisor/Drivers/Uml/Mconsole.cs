using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Panel.Hypervisor.Drivers.Uml;

/// <summary>
/// A client of User-Mode Linux's management console: a Unix datagram socket the guest kernel
/// creates (<c>uml_dir/UMID/mconsole</c>). Each request is one datagram (magic, version, length,
/// up to 512 bytes of text); the kernel answers with one or more datagrams (error flag, "more"
/// flag, length, text). Only root on the host can reach it; the guest network never can.
/// </summary>
public sealed class Mconsole(string socketPath)
{
    private const uint Magic = 0xcafebabe;
    private const uint Version = 2;
    private const int MaxData = 512;
    private const int HeaderSize = 12;

    /// <summary>The socket path.</summary>
    public string SocketPath { get; } = socketPath;

    /// <summary>Whether the socket exists (the guest kernel is far enough to answer).</summary>
    public bool Exists => File.Exists(SocketPath);

    /// <summary>Sends <paramref name="command"/> (e.g. <c>version</c>, <c>cad</c>, <c>config con1</c>) and returns the answer's text.</summary>
    /// <exception cref="EngineException">The guest refused the command (its answer in the message), or did not answer in time.</exception>
    public async Task<string> SendAsync(string command, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var (ok, text) = await TrySendAsync(command, timeout, cancellationToken);
        return ok ? text : throw new EngineException(EngineErrorCode.HostFailure, $"mconsole '{command}' failed: {text}");
    }

    /// <summary>Sends a command; returns whether the guest accepted it, and its answer.</summary>
    public async Task<(bool Ok, string Text)> TrySendAsync(string command, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        var payload = Encoding.ASCII.GetBytes(command);
        if (payload.Length >= MaxData)
        {
            throw new ArgumentException("an mconsole command has fewer than 512 characters", nameof(command));
        }

        var request = new byte[HeaderSize + MaxData];
        BinaryPrimitives.WriteUInt32LittleEndian(request, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(4), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(8), (uint)payload.Length);
        payload.CopyTo(request, HeaderSize);

        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        // Answers come back to the sender's address: an abstract name, so nothing is left on disk.
        socket.Bind(new UnixDomainSocketEndPoint("\0vpspanel-mconsole-" + Guid.NewGuid().ToString("N")));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout ?? TimeSpan.FromSeconds(5));
        try
        {
            await socket.SendToAsync(request, SocketFlags.None, new UnixDomainSocketEndPoint(SocketPath), deadline.Token);
            var answer = new StringBuilder();
            var buffer = new byte[HeaderSize + MaxData];
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                if (n < HeaderSize)
                {
                    throw new EngineException(EngineErrorCode.HostFailure, $"mconsole '{command}': a short answer ({n} bytes)");
                }

                var err = BinaryPrimitives.ReadUInt32LittleEndian(buffer);
                var more = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4));
                var len = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(8)), (uint)(n - HeaderSize));
                answer.Append(Encoding.ASCII.GetString(buffer, HeaderSize, len).TrimEnd('\0'));
                if (more == 0)
                {
                    return (err == 0, answer.ToString());
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new EngineException(EngineErrorCode.Timeout, $"mconsole '{command}' got no answer from {SocketPath}");
        }
        catch (SocketException ex)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"mconsole '{command}': {ex.Message} ({SocketPath})", null, ex);
        }
    }
}
