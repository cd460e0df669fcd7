namespace Panel.Hypervisor.Processes;

/// <summary>How a host command ended.</summary>
/// <param name="FileName">The program.</param>
/// <param name="Arguments">Its arguments.</param>
/// <param name="ExitCode">The exit code (-1 when killed on timeout).</param>
/// <param name="StdOut">Standard output.</param>
/// <param name="StdErr">Standard error.</param>
/// <param name="Duration">Wall time.</param>
public sealed record ProcessResult(string FileName, IReadOnlyList<string> Arguments, int ExitCode, string StdOut, string StdErr, TimeSpan Duration)
{
    /// <summary>Whether it exited with 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>The command line, for messages (arguments are never passed through a shell).</summary>
    public string CommandLine => string.Join(' ', [FileName, .. Arguments.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a)]);

    /// <summary>Throws a <see cref="EngineException"/> with the command and its error output unless it succeeded.</summary>
    public ProcessResult ThrowIfFailed()
    {
        if (!Succeeded)
        {
            var detail = (StdErr.Length > 0 ? StdErr : StdOut).Trim();
            if (detail.Length > 2000)
            {
                detail = detail[..2000] + "…";
            }

            throw new EngineException(EngineErrorCode.HostFailure, $"`{CommandLine}` failed with exit code {ExitCode}: {detail}");
        }

        return this;
    }
}
