namespace Panel.Hypervisor.Processes;

/// <summary>Per-call settings of <see cref="IProcessRunner.RunAsync"/>.</summary>
/// <param name="Timeout">Kill the process (and its children) after this long. Default: 2 minutes.</param>
/// <param name="StdIn">Text for standard input (then closed).</param>
/// <param name="Environment">Extra environment variables.</param>
public sealed record ProcessRunOptions(TimeSpan? Timeout = null, string? StdIn = null, IReadOnlyDictionary<string, string>? Environment = null);

/// <summary>Runs host programs with argument arrays - never a shell string. The seam for testing drivers.</summary>
public interface IProcessRunner
{
    /// <summary>Runs <paramref name="fileName"/> with <paramref name="arguments"/> and waits for it.</summary>
    Task<ProcessResult> RunAsync(string fileName, IReadOnlyList<string> arguments, ProcessRunOptions? options = null, CancellationToken cancellationToken = default);
}
