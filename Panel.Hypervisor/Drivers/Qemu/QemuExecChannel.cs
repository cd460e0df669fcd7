using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Panel.Hypervisor.Instances;

namespace Panel.Hypervisor.Drivers.Qemu;

/// <summary>
/// Runs commands in a QEMU guest through its exec channel: a root shell that the initramfs starts
/// on a virtio console (<c>hvc0</c>), whose host side is the Unix socket <c>exec.sock</c> in the
/// instance folder (mode 700: only root on the host reaches it; nothing on the guest's network
/// does). Each command is sent as one framed line: the program and its arguments single-quoted,
/// standard input (base64) from a file, standard output and error captured to files in
/// <c>/run</c> and printed back in base64 between markers that carry a fresh nonce, so output of
/// an earlier, abandoned command can never be mistaken for this one's. One command at a time per guest.
/// </summary>
public static class QemuExecChannel
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    /// <summary>Runs <paramref name="command"/> and returns its exit code and output.</summary>
    /// <param name="socketPath">The guest's <c>exec.sock</c>.</param>
    /// <param name="command">Program and arguments.</param>
    /// <param name="stdIn">Text for the command's standard input, or null for none.</param>
    /// <param name="timeout">How long the command may run; it is killed in the guest after that.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public static async Task<ExecResult> RunAsync(string socketPath, IReadOnlyList<string> command, string? stdIn, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        var gate = Gates.GetOrAdd(socketPath, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            return await RunLockedAsync(socketPath, command, stdIn, timeout, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Whether the channel answers within <paramref name="timeout"/> (the guest's initramfs has started its shell).</summary>
    public static async Task<bool> AnswersAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            var r = await RunAsync(socketPath, ["true"], null, timeout, cancellationToken);
            return r.ExitCode == 0;
        }
        catch (EngineException)
        {
            return false;
        }
    }

    /// <summary>The framed shell line for one command (public for tests of the quoting).</summary>
    public static string Frame(string nonce, IReadOnlyList<string> command, string? stdIn, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(command);
        var seconds = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var argv = string.Join(' ', command.Select(Quote));
        var f = $"/run/.vpx-{nonce}";
        var input = stdIn is null ? "/dev/null" : $"{f}.i";
        var sb = new StringBuilder();
        // Everything on one line: the shell reads and runs it as a unit.
        sb.Append("{ ");
        if (stdIn is not null)
        {
            sb.Append("echo ").Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(stdIn))).Append(" | base64 -d >").Append(f).Append(".i; ");
        }

        sb.Append("( echo 0 >/proc/self/oom_score_adj; cd /root 2>/dev/null || cd /; export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb; ")
          .Append("exec timeout -s KILL ").Append(seconds).Append(' ').Append(argv).Append(" ) <").Append(input)
          .Append(" >").Append(f).Append(".o 2>").Append(f).Append(".e; r=$?; ")
          .Append("echo @@vpx-").Append(nonce).Append("-o; base64 ").Append(f).Append(".o; ")
          .Append("echo @@vpx-").Append(nonce).Append("-e; base64 ").Append(f).Append(".e; ")
          .Append("rm -f ").Append(f).Append(".o ").Append(f).Append(".e ").Append(f).Append(".i; ")
          .Append("echo @@vpx-").Append(nonce).Append("-r $r; }\n");
        return sb.ToString();
    }

    private static async Task<ExecResult> RunLockedAsync(string socketPath, IReadOnlyList<string> command, string? stdIn, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var nonce = Guid.NewGuid().ToString("N")[..16];
        var line = Frame(nonce, command, stdIn, timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        // The guest kills the command at `timeout`; the host waits a little longer for the frame.
        using var deadline = new CancellationTokenSource(timeout + TimeSpan.FromSeconds(10));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), linked.Token);
            await socket.SendAsync(Encoding.UTF8.GetBytes(line), SocketFlags.None, linked.Token);
            var received = new StringBuilder();
            var buffer = new byte[64 * 1024];
            var endMarker = $"@@vpx-{nonce}-r ";
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, linked.Token);
                if (n == 0)
                {
                    throw new EngineException(EngineErrorCode.HostFailure, "the guest's exec channel closed (did the guest stop?)");
                }

                received.Append(Encoding.ASCII.GetString(buffer, 0, n));
                var text = received.ToString();
                var end = text.IndexOf(endMarker, StringComparison.Ordinal);
                if (end >= 0 && text.IndexOf('\n', end) is var eol and > 0)
                {
                    return Parse(text, nonce, end, eol);
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new EngineException(EngineErrorCode.Timeout, FormattableString.Invariant($"the guest did not answer on its exec channel within {(timeout + TimeSpan.FromSeconds(10)).TotalSeconds:0} s"));
        }
        catch (SocketException ex)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"cannot reach the guest's exec channel at {socketPath}: {ex.Message}", null, ex);
        }
    }

    private static ExecResult Parse(string text, string nonce, int end, int eol)
    {
        var o = text.IndexOf($"@@vpx-{nonce}-o\n", StringComparison.Ordinal);
        var e = text.IndexOf($"@@vpx-{nonce}-e\n", StringComparison.Ordinal);
        if (o < 0 || e < o || end < e)
        {
            throw new EngineException(EngineErrorCode.HostFailure, "the guest's exec channel sent a garbled answer");
        }

        string Decode(int from, int to)
        {
            var b64 = text[from..to].Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal);
            return Encoding.UTF8.GetString(Convert.FromBase64String(b64));
        }

        var stdout = Decode(o + nonce.Length + 9, e);
        var stderr = Decode(e + nonce.Length + 9, end);
        var code = int.Parse(text[(end + nonce.Length + 9)..eol].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture);
        // timeout(1) reports a killed command as 137 (SIGKILL); 124 from coreutils on its own timeout.
        return new ExecResult(code, stdout, stderr);
    }

    /// <summary>Single-quotes one word for a POSIX shell.</summary>
    private static string Quote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
