using System.Text.Json;
using System.Text.Json.Serialization;

namespace Panel.Hypervisor.Drivers.Qemu.Qmp;

/// <summary>The typed QMP commands the QEMU driver uses, each a thin layer over <see cref="ExecuteAsync{T}"/>.</summary>
public sealed partial class QmpClient
{
    private const int MaxSnapshotTagLength = 64;

    /// <summary>The vCPU run state (<c>query-status</c>).</summary>
    public Task<QmpStatus> QueryStatusAsync(CancellationToken cancellationToken = default)
        => ExecuteAsync<QmpStatus>("query-status", cancellationToken: cancellationToken);

    /// <summary>The QEMU version (<c>query-version</c>).</summary>
    public async Task<QmpVersion> QueryVersionAsync(CancellationToken cancellationToken = default)
    {
        var answer = await ExecuteAsync("query-version", cancellationToken: cancellationToken);
        try
        {
            return QmpVersion.Parse(answer);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new JsonException($"unexpected answer to 'query-version': {answer.GetRawText()}", ex);
        }
    }

    /// <summary>Asks the guest to power off through ACPI (<c>system_powerdown</c>); the guest may ignore it.</summary>
    public Task SystemPowerdownAsync(CancellationToken cancellationToken = default)
        => ExecuteAsync("system_powerdown", cancellationToken: cancellationToken);

    /// <summary>Resets the guest at once, like the reset button (<c>system_reset</c>).</summary>
    public Task SystemResetAsync(CancellationToken cancellationToken = default)
        => ExecuteAsync("system_reset", cancellationToken: cancellationToken);

    /// <summary>Pauses the vCPUs (<c>stop</c>).</summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
        => ExecuteAsync("stop", cancellationToken: cancellationToken);

    /// <summary>Resumes paused vCPUs, or starts a guest launched with <c>-S</c> (<c>cont</c>).</summary>
    public Task ContAsync(CancellationToken cancellationToken = default)
        => ExecuteAsync("cont", cancellationToken: cancellationToken);

    /// <summary>
    /// Makes QEMU exit at once, without telling the guest (<c>quit</c>). QEMU may close the socket
    /// before its answer arrives; that counts as success.
    /// </summary>
    public async Task QuitAsync(CancellationToken cancellationToken = default)
    {
        if (!IsConnected)
        {
            throw new QmpConnectionException($"cannot run 'quit': the QMP monitor at {SocketPath} is not connected");
        }

        try
        {
            await ExecuteAsync("quit", cancellationToken: cancellationToken);
        }
        catch (QmpConnectionException)
        {
            // QEMU exited before its answer reached us, which is what was asked.
        }
    }

    /// <summary>The cumulative I/O counters of every block device (<c>query-blockstats</c>).</summary>
    public async Task<IReadOnlyList<QmpBlockStats>> QueryBlockStatsAsync(CancellationToken cancellationToken = default)
    {
        var entries = await ExecuteAsync<List<BlockStatsEntry>>("query-blockstats", cancellationToken: cancellationToken);
        return [.. entries.Select(e => new QmpBlockStats(
            !string.IsNullOrEmpty(e.Device) ? e.Device : e.Qdev ?? e.NodeName ?? string.Empty,
            e.NodeName,
            e.Stats.ReadBytes,
            e.Stats.WriteBytes,
            e.Stats.ReadOperations,
            e.Stats.WriteOperations))];
    }

    /// <summary>
    /// Runs a human-monitor (HMP) command line (<c>human-monitor-command</c>) and returns what it
    /// printed. HMP reports most failures as printed text, not as a QMP error.
    /// </summary>
    public Task<string> HumanMonitorCommandAsync(string commandLine, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commandLine);
        if (commandLine.Contains('\n', StringComparison.Ordinal) || commandLine.Contains('\r', StringComparison.Ordinal))
        {
            throw new ArgumentException("an HMP command is one line", nameof(commandLine));
        }

        return ExecuteAsync<string>("human-monitor-command", new Dictionary<string, string> { ["command-line"] = commandLine }, timeout, cancellationToken);
    }

    /// <summary>Saves the whole VM (devices, RAM, disks) as internal snapshot <paramref name="tag"/> (HMP <c>savevm</c>, QEMU 7.2).</summary>
    /// <param name="tag">The snapshot name (see <see cref="IsValidSnapshotTag"/>); an existing snapshot of that name is replaced.</param>
    /// <param name="timeout">How long saving may take; <see cref="CommandTimeout"/> when null. The monitor answers nothing else meanwhile.</param>
    /// <param name="cancellationToken">Stops waiting (QEMU still finishes).</param>
    /// <exception cref="QmpException">QEMU printed an error (e.g. a disk that is not qcow2).</exception>
    public Task SnapshotSaveAsync(string tag, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => RunSnapshotCommandAsync("savevm", tag, timeout, cancellationToken);

    /// <summary>Restores internal snapshot <paramref name="tag"/> (HMP <c>loadvm</c>).</summary>
    /// <inheritdoc cref="SnapshotSaveAsync" />
    public Task SnapshotLoadAsync(string tag, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => RunSnapshotCommandAsync("loadvm", tag, timeout, cancellationToken);

    /// <summary>Deletes internal snapshot <paramref name="tag"/> from every disk (HMP <c>delvm</c>).</summary>
    /// <inheritdoc cref="SnapshotSaveAsync" />
    public Task SnapshotDeleteAsync(string tag, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        => RunSnapshotCommandAsync("delvm", tag, timeout, cancellationToken);

    /// <summary>
    /// Whether <paramref name="tag"/> can name a snapshot: 1-64 ASCII letters, digits, <c>.</c>,
    /// <c>_</c> or <c>-</c>, starting with a letter. HMP splits its command line on spaces, and QEMU
    /// also matches a tag against snapshot ids, which are numbers.
    /// </summary>
    public static bool IsValidSnapshotTag(string? tag)
        => !string.IsNullOrEmpty(tag)
            && tag.Length <= MaxSnapshotTagLength
            && char.IsAsciiLetter(tag[0])
            && tag.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private async Task RunSnapshotCommandAsync(string verb, string tag, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (!IsValidSnapshotTag(tag))
        {
            throw new ArgumentException($"'{tag}' is not a valid snapshot tag (1-{MaxSnapshotTagLength} letters, digits, '.', '_' or '-', starting with a letter)", nameof(tag));
        }

        var commandLine = $"{verb} {tag}";
        var printed = await HumanMonitorCommandAsync(commandLine, timeout, cancellationToken);
        if (!string.IsNullOrWhiteSpace(printed))
        {
            throw new QmpException(commandLine, QmpException.GenericError, printed.Trim());
        }
    }

    private sealed record BlockStatsEntry(
        [property: JsonPropertyName("stats")] BlockStatsCounters Stats,
        [property: JsonPropertyName("device")] string? Device = null,
        [property: JsonPropertyName("qdev")] string? Qdev = null,
        [property: JsonPropertyName("node-name")] string? NodeName = null);

    private sealed record BlockStatsCounters(
        [property: JsonPropertyName("rd_bytes")] long ReadBytes,
        [property: JsonPropertyName("wr_bytes")] long WriteBytes,
        [property: JsonPropertyName("rd_operations")] long ReadOperations,
        [property: JsonPropertyName("wr_operations")] long WriteOperations);
}
