using System.Diagnostics;
using System.Text;

namespace Panel.Hypervisor.Processes;

/// <summary>
/// The real <see cref="IProcessRunner"/>. Waits for the process to exit, then gives its output a
/// short moment to drain: daemonizing tools (<c>lxc-start -d</c>) may leave a child holding the
/// pipes, and the engine must not hang on that.
/// </summary>
public sealed class ProcessRunner : IProcessRunner
{
    /// <summary>The shared instance.</summary>
    public static ProcessRunner Instance { get; } = new();

    /// <inheritdoc />
    public async Task<ProcessResult> RunAsync(string fileName, IReadOnlyList<string> arguments, ProcessRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ArgumentNullException.ThrowIfNull(arguments);
        options ??= new ProcessRunOptions();
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["LC_ALL"] = "C";
        foreach (var (k, v) in options.Environment ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var outDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var errDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Collect(stdout, e.Data, outDone);
        process.ErrorDataReceived += (_, e) => Collect(stderr, e.Data, errDone);

        var sw = Stopwatch.StartNew();
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new EngineException(EngineErrorCode.HostFailure, $"cannot run {fileName}: {ex.Message} (is its package installed?)", null, ex);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            if (options.StdIn is not null)
            {
                await process.StandardInput.WriteAsync(options.StdIn.AsMemory(), cancellationToken);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program exited without reading its input.
        }

        using var timeout = new CancellationTokenSource(options.Timeout ?? TimeSpan.FromMinutes(2));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        var exitCode = -1;
        try
        {
            await process.WaitForExitAsync(linked.Token);
            exitCode = process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            stderr.Append(CultureInvariant($"(killed after {sw.Elapsed.TotalSeconds:0.#} s)"));
        }

        // Let the readers drain, but never wait for a daemon that inherited the pipes.
        await Task.WhenAny(Task.WhenAll(outDone.Task, errDone.Task), Task.Delay(TimeSpan.FromMilliseconds(500), CancellationToken.None));
        string outText, errText;
        lock (stdout)
        {
            outText = stdout.ToString();
        }

        lock (stderr)
        {
            errText = stderr.ToString();
        }

        var result = new ProcessResult(fileName, [.. arguments], exitCode, outText, errText, sw.Elapsed);
        if (Trace)
        {
            // PANEL_TRACE_PROCESSES=1: every host command with its duration, for diagnosing slow operations.
            Console.Error.WriteLine(FormattableString.Invariant($"[process] {sw.Elapsed.TotalMilliseconds,7:0.0} ms  exit {exitCode,3}  {result.CommandLine}"));
        }

        return result;
    }

    private static bool Trace { get; } = Environment.GetEnvironmentVariable("PANEL_TRACE_PROCESSES") == "1";

    private static void Collect(StringBuilder sink, string? line, TaskCompletionSource done)
    {
        if (line is null)
        {
            done.TrySetResult();
            return;
        }

        lock (sink)
        {
            sink.AppendLine(line);
        }
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static string CultureInvariant(FormattableString s) => FormattableString.Invariant(s);
}
