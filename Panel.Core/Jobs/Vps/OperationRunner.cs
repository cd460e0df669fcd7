using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using VpsEntity = Panel.Core.Domain.Compute.Vps;

namespace Panel.Core.Jobs.Vps;

/// <summary>What a job body gets: the operation, its VPS, the engine driver, and a way to report steps.</summary>
public sealed class OperationContext
{
    private readonly Func<int, string, Task> report;

    internal OperationContext(Operation operation, VpsEntity vps, IInstanceDriver driver, Func<int, string, Task> report)
    {
        Operation = operation;
        Vps = vps;
        Driver = driver;
        this.report = report;
    }

    /// <summary>The operation (as loaded at the start).</summary>
    public Operation Operation { get; }

    /// <summary>The VPS, with plan, image and addresses (as loaded at the start).</summary>
    public VpsEntity Vps { get; }

    /// <summary>The engine driver for the VPS's approach on this node.</summary>
    public IInstanceDriver Driver { get; }

    /// <summary>Records a step (progress 0-100) in the operation log.</summary>
    public Task ReportAsync(int progress, string message) => report(progress, message);

    /// <summary>The engine spec of the VPS.</summary>
    public InstanceSpec Spec(GuestAccess access) => new(
        Vps.EngineId,
        Vps.Hostname,
        Vps.Image.Name,
        new InstanceLimits(Vps.Vcpus, Vps.MemoryBytes, Vps.DiskBytes, Vps.MaxProcesses, PortSpeedMbit: Vps.PortSpeedMbit),
        new NetworkSpec(
            Vps.MacAddress,
            Vps.Addresses.Where(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork).OrderBy(a => a.Id).Select(a => a.Address.ToString()).FirstOrDefault() ?? "",
            Vps.Addresses.Where(a => a.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6).OrderBy(a => a.Id).Select(a => a.Address.ToString()).FirstOrDefault()),
        access);

    /// <summary>The status the VPS has now, from the engine (a suspended VPS stays Suspended).</summary>
    public async Task<VpsStatus> ObservedAsync(CancellationToken cancellationToken)
    {
        if (Vps.Status == VpsStatus.Suspended)
        {
            return VpsStatus.Suspended;
        }

        var state = await Driver.GetStateAsync(new StateOptions(Vps.EngineId), cancellationToken);
        return state.Status is InstanceStatus.Running or InstanceStatus.Frozen ? VpsStatus.Running : VpsStatus.Stopped;
    }

    /// <summary>Whether the engine has the guest on this node.</summary>
    public async Task<bool> ExistsAsync(CancellationToken cancellationToken)
        => (await Driver.ListAsync(new ListOptions(), cancellationToken)).Contains(Vps.EngineId, StringComparer.Ordinal);
}

/// <summary>How a job body ends.</summary>
/// <param name="Status">The VPS status to record.</param>
/// <param name="Message">The last step's text.</param>
/// <param name="Reason">The VPS's status reason to record (e.g. why it is suspended).</param>
/// <param name="ContinueOnNodeId">
/// Not the end: the operation goes on with a job on this node's queue (a migration moves between
/// nodes). The VPS stays held; the operation is queued again on that node, whose reconciliation
/// dispatches it again if the hand-over is cut.
/// </param>
public sealed record OperationOutcome(VpsStatus Status, string Message, string? Reason = null, int? ContinueOnNodeId = null);

/// <summary>
/// Runs one operation's job body with the guarantees every VPS job needs: one operation at a time
/// per VPS across all processes (a PostgreSQL advisory lock held for the whole run), idempotence
/// (an operation that has ended is not run again, so a retried or duplicated job does nothing), every
/// step recorded, and a readable failure that leaves the VPS in Error and frees the VPS for the next
/// operation. A job cut off by a shutdown stays Running and is dispatched again by reconciliation.
/// </summary>
public sealed class OperationRunner(
    IDbContextFactory<PanelDbContext> dbFactory,
    DriverRegistry drivers,
    OperationDispatcher dispatcher,
    Panel.Core.Hosting.EdgeSignal edgeSignal,
    Panel.Core.Hosting.HostingSync hostingSync,
    TimeProvider clock,
    ILogger<OperationRunner> logger)
{
    /// <summary>The advisory lock key space of VPS operations ("VP").</summary>
    public const int LockSpace = 0x5650;

    /// <summary>Runs <paramref name="body"/> for <paramref name="operationId"/>; <paramref name="onFailure"/> releases what a failed run took.</summary>
    public async Task RunAsync(
        long operationId,
        Func<OperationContext, CancellationToken, Task<OperationOutcome>> body,
        Func<OperationContext, Exception, CancellationToken, Task<VpsStatus>>? onFailure,
        CancellationToken cancellationToken)
    {
        int vpsId;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            var found = await db.Operations.AsNoTracking().Where(o => o.Id == operationId).Select(o => new { o.VpsId, o.Status }).FirstOrDefaultAsync(cancellationToken);
            if (found?.VpsId is null || found.Status is OperationStatus.Succeeded or OperationStatus.Failed or OperationStatus.Refused)
            {
                return; // nothing to do: unknown, refused or already done
            }

            vpsId = found.VpsId.Value;
        }

        // One operation at a time per VPS, across every process: a duplicate of this job waits here,
        // then finds the operation ended and returns.
        await using var vpsLock = await VpsLock.TakeAsync(ConnectionString(), vpsId, cancellationToken);

        Operation op;
        VpsEntity vps;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            op = await db.Operations.FirstAsync(o => o.Id == operationId, cancellationToken);
            if (op.IsFinished)
            {
                return;
            }

            vps = await db.Vpses.Include(v => v.Plan).Include(v => v.Image).Include(v => v.Addresses).Include(v => v.Node)
                .AsNoTracking().FirstAsync(v => v.Id == vpsId, cancellationToken);
            var now = Now;
            var handedOver = op.Status == OperationStatus.Queued && op.Attempts > 0;
            var here = handedOver ? await db.Nodes.Where(n => n.Id == op.NodeId).Select(n => n.Name).FirstOrDefaultAsync(cancellationToken) : null;
            if (!handedOver)
            {
                op.Attempts++;
            }

            op.StartedAt ??= now;
            op.Status = OperationStatus.Running;
            op.Events.Add(new OperationEvent
            {
                At = now,
                Progress = op.Progress,
                Message = handedOver ? $"continues on node {here}" : op.Attempts == 1 ? "started" : $"started again (attempt {op.Attempts})",
            });
            await db.SaveChangesAsync(cancellationToken);
        }

        var driver = drivers.For(vps.Plan.Approach);
        var context = new OperationContext(op, vps, driver, (progress, message) => ReportAsync(operationId, progress, message, error: false));
        try
        {
            var outcome = await body(context, cancellationToken);
            if (outcome.ContinueOnNodeId is { } next)
            {
                await HandOverAsync(operationId, next, outcome.Message);
                await vpsLock.ReleaseAsync();
                await dispatcher.DispatchAsync(operationId, CancellationToken.None);
                return;
            }

            if (outcome.Status == VpsStatus.Running && await hostingSync.SpaceOfContainerAsync(vpsId, cancellationToken) is { } spaceId)
            {
                await SetUpHostingAsync(context, vpsId, spaceId, cancellationToken);
            }

            await FinishAsync(operationId, vpsId, OperationStatus.Succeeded, outcome.Status, outcome.Message, null, outcome.Reason);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The process is shutting down: the operation stays Running and is dispatched again.
            logger.LogWarning("operation {Operation} interrupted by shutdown; it will run again", operationId);
            throw;
        }
        catch (Exception ex)
        {
            var reason = Readable(ex);
            logger.LogWarning(ex, "operation {Operation} ({Kind}) on VPS {Vps} failed: {Reason}", operationId, op.Kind, vpsId, reason);
            var status = VpsStatus.Error;
            if (onFailure is not null)
            {
                try
                {
                    status = await onFailure(context, ex, CancellationToken.None);
                }
                catch (Exception cleanup) when (cleanup is not OutOfMemoryException)
                {
                    logger.LogError(cleanup, "operation {Operation}: releasing after the failure failed too", operationId);
                    reason += $" (cleaning up also failed: {Readable(cleanup)})";
                }
            }

            await FinishAsync(operationId, vpsId, OperationStatus.Failed, status, reason, reason, reason);
        }
    }

    /// <summary>An operation of one engine call: reports <paramref name="step"/>, runs <paramref name="call"/>, ends with <paramref name="result"/>.</summary>
    public Task RunSingleStepAsync(long operationId, string step, Func<OperationContext, CancellationToken, Task> call, VpsStatus result, string done, CancellationToken cancellationToken)
        => RunAsync(operationId, async (ctx, ct) =>
        {
            await ctx.ReportAsync(30, step);
            await call(ctx, ct);
            return new OperationOutcome(result, done);
        }, onFailure: null, cancellationToken);

    /// <summary>A failure's text for users: the engine's and the panel's messages as they are, others by type.</summary>
    public static string Readable(Exception ex) => ex switch
    {
        EngineException e => e.Message,
        PanelRefusedException e => e.Message,
        TimeoutException => "the node did not answer in time",
        _ => $"internal error ({ex.GetType().Name}: {ex.Message})",
    };

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    private string ConnectionString()
    {
        using var db = dbFactory.CreateDbContext();
        return db.Database.GetConnectionString()!;
    }

    private async Task ReportAsync(long operationId, int progress, string message, bool error)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var now = Now;
        db.OperationEvents.Add(new OperationEvent { OperationId = operationId, At = now, Progress = progress, Message = message, IsError = error });
        await db.SaveChangesAsync();
        await db.Operations.Where(o => o.Id == operationId)
            .ExecuteUpdateAsync(s => s.SetProperty(o => o.Progress, progress).SetProperty(o => o.Step, message));
    }

    private async Task HandOverAsync(long operationId, int nodeId, string message)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var now = Now;
        var progress = await db.Operations.Where(o => o.Id == operationId).Select(o => o.Progress).FirstAsync();
        db.OperationEvents.Add(new OperationEvent { OperationId = operationId, At = now, Progress = progress, Message = message });
        await db.SaveChangesAsync();
        await db.Operations.Where(o => o.Id == operationId).ExecuteUpdateAsync(s => s
            .SetProperty(o => o.Status, OperationStatus.Queued)
            .SetProperty(o => o.NodeId, nodeId)
            .SetProperty(o => o.Step, message));
    }

    private async Task FinishAsync(long operationId, int vpsId, OperationStatus status, VpsStatus vpsStatus, string message, string? error, string? statusReason)
    {
        // Not cancellable: once the work is done (or failed) the record must say so.
        await using var db = await dbFactory.CreateDbContextAsync();
        await using var tx = await db.Database.BeginTransactionAsync();
        var now = Now;
        var progress = status == OperationStatus.Succeeded ? 100 : (int?)null;
        db.OperationEvents.Add(new OperationEvent { OperationId = operationId, At = now, Progress = progress ?? 0, Message = message, IsError = error is not null });
        await db.SaveChangesAsync();
        await db.Operations.Where(o => o.Id == operationId).ExecuteUpdateAsync(s => s
            .SetProperty(o => o.Status, status)
            .SetProperty(o => o.Progress, o => progress ?? o.Progress)
            .SetProperty(o => o.Step, message)
            .SetProperty(o => o.Error, error)
            .SetProperty(o => o.FinishedAt, now)
            .SetProperty(o => o.Parameters, o => o.Kind == OperationKind.Provision ? null : o.Parameters));
        await db.Vpses.Where(v => v.Id == vpsId).ExecuteUpdateAsync(s => s
            .SetProperty(v => v.Status, vpsStatus)
            .SetProperty(v => v.StatusReason, statusReason)
            .SetProperty(v => v.BusyOperationId, v => v.BusyOperationId == operationId ? null : v.BusyOperationId)
            .SetProperty(v => v.UpdatedAt, now));
        await tx.CommitAsync();

        // A tenant's container started, stopped or was suspended: the edge of this process reloads its routes now
        // (a suspended container's sites answer with the suspension page; others' edges catch up on their timer).
        if (await db.HostingSpaces.AnyAsync(s => s.VpsId == vpsId))
        {
            edgeSignal.Notify();
        }
    }

    /// <summary>
    /// A hosting container that has just come up (new, re-created, restored or started) gets its space's SFTP access
    /// and site servers before the operation records it Running. A failure here is recorded on the operation and
    /// logged, not fatal: the container runs, and the space's next change (or start) sets it up again.
    /// </summary>
    private async Task SetUpHostingAsync(OperationContext context, int vpsId, int spaceId, CancellationToken cancellationToken)
    {
        await context.ReportAsync(95, "setting up the hosting space (SFTP, site servers)");
        try
        {
            await hostingSync.SyncStartedSpaceAsync(spaceId, cancellationToken);
        }
        catch (Exception ex) when (ex is PanelRefusedException or Panel.Hypervisor.EngineException or InvalidOperationException)
        {
            logger.LogWarning(ex, "Setting up the hosting container of VPS {VpsId} failed; the space's next change retries", vpsId);
            await ReportAsync(context.Operation.Id, 95, $"setting up the hosting space failed: {Readable(ex)}", error: true);
        }
    }

    /// <summary>Reads a job's parameters.</summary>
    public static T Parameters<T>(Operation operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return JsonSerializer.Deserialize<T>(operation.Parameters ?? "null")
            ?? throw new InvalidOperationException($"operation {operation.Id} has no parameters");
    }
}

/// <summary>
/// The session-level advisory lock that keeps one operation at a time on a VPS. Released explicitly:
/// Npgsql resets a pooled connection only when it is next used, so merely closing it would leave the
/// lock held by an idle connection in the pool (and reconciliation would think a job still works).
/// </summary>
internal sealed class VpsLock : IAsyncDisposable
{
    private readonly NpgsqlConnection connection;
    private readonly int vpsId;
    private bool held = true;

    private VpsLock(NpgsqlConnection connection, int vpsId)
    {
        this.connection = connection;
        this.vpsId = vpsId;
    }

    public static async Task<VpsLock> TakeAsync(string connectionString, int vpsId, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var cmd = new NpgsqlCommand("SELECT pg_advisory_lock(@space, @id)", connection);
            cmd.Parameters.AddWithValue("space", OperationRunner.LockSpace);
            cmd.Parameters.AddWithValue("id", vpsId);
            await cmd.ExecuteNonQueryAsync(cancellationToken);
            return new VpsLock(connection, vpsId);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Releases the lock now (idempotent); the connection goes back to the pool on dispose.</summary>
    public async Task ReleaseAsync()
    {
        if (!held)
        {
            return;
        }

        held = false;
        await using var cmd = new NpgsqlCommand("SELECT pg_advisory_unlock(@space, @id)", connection);
        cmd.Parameters.AddWithValue("space", OperationRunner.LockSpace);
        cmd.Parameters.AddWithValue("id", vpsId);
        await cmd.ExecuteNonQueryAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ReleaseAsync();
        }
        catch (NpgsqlException)
        {
            // A broken connection has lost its session, and the lock with it.
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }
}
