using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Operations;
using Panel.Core.Jobs.Vps;
using Panel.Core.Persistence;

namespace Panel.Core.Jobs;

/// <summary>
/// Queues the job of an accepted operation on its node's queue (<c>node-NAME</c>) and records the
/// job id. Safe to call again for the same operation: a queued or running operation whose job is
/// lost (a crash between commit and enqueue, a node that died) is simply dispatched once more, and
/// the job does the work only once.
/// </summary>
public sealed class OperationDispatcher(IDbContextFactory<PanelDbContext> dbFactory, IBackgroundJobClient jobs)
{
    /// <summary>Queues the operation's job; returns the Hangfire job id (null when the operation has ended).</summary>
    public async Task<string?> DispatchAsync(long operationId, CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var op = await db.Operations.AsNoTracking()
            .Where(o => o.Id == operationId)
            .Select(o => new { o.Kind, o.Status, Node = db.Nodes.Where(n => n.Id == o.NodeId).Select(n => n.Name).FirstOrDefault() })
            .FirstOrDefaultAsync(cancellationToken);
        if (op is null || op.Status is OperationStatus.Succeeded or OperationStatus.Failed or OperationStatus.Refused)
        {
            return null;
        }

        var queue = op.Node is null ? JobsServiceCollectionExtensions.DefaultQueue : JobsServiceCollectionExtensions.NodeQueue(op.Node);
        var jobId = jobs.Create(JobFor(op.Kind, operationId), new EnqueuedState(queue));
        await db.Operations.Where(o => o.Id == operationId)
            .ExecuteUpdateAsync(s => s.SetProperty(o => o.JobId, jobId), cancellationToken);
        return jobId;
    }

    /// <summary>The Hangfire job (one class per kind) for an operation.</summary>
    public static Job JobFor(OperationKind kind, long id) => kind switch
    {
        OperationKind.Provision => Job.FromExpression<ProvisionJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Start => Job.FromExpression<StartJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Stop => Job.FromExpression<StopJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.ForceStop => Job.FromExpression<ForceStopJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Reboot => Job.FromExpression<RebootJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Delete => Job.FromExpression<DeleteJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Snapshot => Job.FromExpression<SnapshotJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Restore => Job.FromExpression<RestoreJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.DeleteSnapshot => Job.FromExpression<DeleteSnapshotJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Reinstall => Job.FromExpression<ReinstallJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Resize => Job.FromExpression<ResizeJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.ResetAccess => Job.FromExpression<ResetAccessJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Suspend => Job.FromExpression<SuspendJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Unsuspend => Job.FromExpression<UnsuspendJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Backup => Job.FromExpression<BackupJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.RestoreBackup => Job.FromExpression<RestoreBackupJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.DeleteBackup => Job.FromExpression<DeleteBackupJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Throttle => Job.FromExpression<ThrottleJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Unthrottle => Job.FromExpression<UnthrottleJob>(j => j.RunAsync(id, CancellationToken.None)),
        OperationKind.Migrate => Job.FromExpression<MigrateJob>(j => j.RunAsync(id, CancellationToken.None)),
        _ => throw new NotSupportedException($"{kind} operations are not available yet"),
    };
}
