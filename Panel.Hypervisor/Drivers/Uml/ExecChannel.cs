using System.Globalization;
using System.Text;
using Panel.Hypervisor.Instances;

namespace Panel.Hypervisor.Drivers.Uml;

/// <summary>
/// Runs commands in a UML guest through its exec line: a second console line (<c>con1</c>, a pts
/// on the host that only root can open) served by <c>scripts/guest/vpspanel-exec</c>, which the
/// guest's init starts at boot. One framed request per line, answered by base64 blocks between
/// markers that carry the request's id, so output left over from an abandoned request is skipped.
/// Nothing of it is on the guest network.
/// </summary>
internal static class ExecChannel
{
    private const string Marker = "@@vpspanel ";

    /// <summary>The shell text that runs <paramref name="command"/> as an argument vector (every argument single-quoted).</summary>
    public static string Script(IReadOnlyList<string> command)
        => "exec " + string.Join(' ', command.Select(Quote)) + "\n";

    /// <summary>One request line.</summary>
    public static string Request(string id, IReadOnlyList<string> command, TimeSpan timeout, string? stdIn)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var input = stdIn is null ? "-" : Convert.ToBase64String(Encoding.UTF8.GetBytes(stdIn));
        if (input.Length == 0)
        {
            input = "-";
        }

        return $"RUN {id} {seconds} {input} {Convert.ToBase64String(Encoding.UTF8.GetBytes(Script(command)))}\n";
    }

    /// <summary>Runs a command and waits for its answer (the guest kills it at <paramref name="timeout"/>; the host waits a little longer).</summary>
    public static async Task<ExecResult> RunAsync(string pts, uint ownerUid, IReadOnlyList<string> command, TimeSpan timeout, string? stdIn, CancellationToken cancellationToken)
    {
        var id = "x" + Guid.NewGuid().ToString("N")[..16];
        using var channel = PtsChannel.Open(pts, ownerUid);
        channel.Write(Request(id, command, timeout, stdIn), TimeSpan.FromSeconds(10));
        var deadline = DateTime.UtcNow + timeout + TimeSpan.FromSeconds(10);
        var received = new StringBuilder();
        var buffer = new byte[16384];
        var end = Marker + id + " rc ";
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (DateTime.UtcNow > deadline)
            {
                throw new EngineException(EngineErrorCode.Timeout, $"`{string.Join(' ', command)}` did not finish within {timeout.TotalSeconds:0} s");
            }

            var n = await Task.Run(() => channel.Read(buffer, TimeSpan.FromMilliseconds(200)), CancellationToken.None);
            if (n < 0)
            {
                throw new EngineException(EngineErrorCode.InvalidState, "the guest's exec line closed (it stopped?)");
            }

            if (n == 0)
            {
                continue;
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
            var text = received.ToString();
            var at = text.IndexOf(end, StringComparison.Ordinal);
            if (at >= 0 && text.IndexOf('\n', at + end.Length) is var eol && eol > 0)
            {
                return Parse(text, id) ?? throw new EngineException(EngineErrorCode.HostFailure, "the guest's exec answer is garbled");
            }
        }
    }

    /// <summary>Parses the answer to request <paramref name="id"/> out of what the line carried (null if incomplete).</summary>
    public static ExecResult? Parse(string text, string id)
    {
        var outAt = text.IndexOf(Marker + id + " out\n", StringComparison.Ordinal);
        var errAt = text.IndexOf(Marker + id + " err\n", StringComparison.Ordinal);
        var rcAt = text.IndexOf(Marker + id + " rc ", StringComparison.Ordinal);
        if (outAt < 0 || errAt < outAt || rcAt < errAt)
        {
            return null;
        }

        string Block(int from, int to)
        {
            var start = text.IndexOf('\n', from) + 1;
            var b64 = new string(text[start..to].Where(c => !char.IsWhiteSpace(c)).ToArray());
            return Encoding.UTF8.GetString(Convert.FromBase64String(b64));
        }

        var rcStart = rcAt + Marker.Length + id.Length + " rc ".Length;
        var rcEnd = text.IndexOf('\n', rcStart);
        if (rcEnd < 0 || !int.TryParse(text[rcStart..rcEnd].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var rc))
        {
            return null;
        }

        return new ExecResult(rc, Block(outAt, errAt), Block(errAt, rcAt));
    }

    private static string Quote(string arg) => "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
