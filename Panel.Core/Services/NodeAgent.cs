using Microsoft.EntityFrameworkCore;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Panel.Core.Domain.Nodes;
using Panel.Core.Jobs;
using Panel.Core.Persistence;
using Panel.Hypervisor;
using Panel.Hypervisor.Host;

namespace Panel.Core.Services;

/// <summary>
/// Runs in every process that serves a node's queue: registers the node on start and reports a
/// heartbeat with its capacity and driver status every 15 s. A node that stops reporting is shown
/// offline after <see cref="Node.OfflineAfter"/>. A database outage only delays heartbeats.
/// A hosted service of its own rather than a <see cref="BackgroundService"/>: its loop runs on a task it owns and
/// ends quietly whenever the process stops, also when the host's start fails (its port is taken) before the host
/// was ever asked to stop - where a cancelled <see cref="BackgroundService"/> is logged as a critical fault.
/// </summary>
public sealed class NodeAgent(
    IDbContextFactory<PanelDbContext> dbFactory,
    DriverRegistry drivers,
    IpPoolService pools,
    IServiceScopeFactory scopes,
    PanelOptions options,
    TimeProvider clock,
    ILogger<NodeAgent> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private Task? loop;

    /// <summary>The heartbeat loop once started (ends when the agent stops; never faults).</summary>
    public Task? Loop => loop;

    /// <summary>Time between heartbeats.</summary>
    public TimeSpan Interval { get; } = TimeSpan.FromSeconds(Math.Clamp(options.Jobs.HeartbeatSeconds, 1, 30));

    private static readonly TimeSpan ProbeRefresh = TimeSpan.FromMinutes(5);

    /// <summary>This node's name as stored (the queue-safe form of the configured name).</summary>
    public string NodeName { get; } = JobsServiceCollectionExtensions.NodeKey(options.Jobs.NodeName);

    /// <summary>Writes one heartbeat: creates the node row the first time, updates it afterwards.</summary>
    public async Task HeartbeatAsync(bool refreshProbes, CancellationToken cancellationToken)
    {
        var host = HostProbe.Read();
        var probes = await drivers.ProbeAllAsync(refreshProbes, cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        for (var attempt = 0; ; attempt++)
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var node = await db.Nodes.FirstOrDefaultAsync(n => n.Name == NodeName, cancellationToken);
            if (node is null)
            {
                node = new Node { Name = NodeName, RegisteredAt = now };
                db.Nodes.Add(node);
            }

            node.Hostname = host.Hostname;
            node.Kernel = host.KernelRelease;
            node.CpuCount = host.CpuCount;
            node.MemoryBytes = host.MemoryBytes;
            node.DiskBytes = DiskSpace(options.Engine.StateDirectory);
            node.LastHeartbeatAt = now;
            node.GuestNetwork = options.Engine.BridgeCidr;
            node.GuestNetwork6 = string.IsNullOrEmpty(options.Engine.BridgeCidr6) ? null : options.Engine.BridgeCidr6;
            node.Images = new Panel.Hypervisor.Images.ImageStore(options.Engine.ImagesDirectory).List().Select(i => i.Manifest.Name).ToList();
            node.Drivers = probes.Select(p => new NodeDriver(p.Name, p.Kind.ToString(), p.Version, p.Usable, p.Reason, [.. p.Features])).ToList();
            try
            {
                // The pool first: once a node shows up, orders can be placed on it.
                await pools.EnsureForNetworkAsync(options.Engine.BridgeCidr, options.Engine.BridgeCidr6, cancellationToken);
                await db.SaveChangesAsync(cancellationToken);
                return;
            }
            catch (DbUpdateException ex) when (attempt == 0 && ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                // Another process registered the same node a moment ago: update that row instead.
            }
        }
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        loop ??= Task.Run(() => RunAsync(stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await stopping.CancelAsync();
        if (loop is not null)
        {
            await loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <inheritdoc />
    public void Dispose() => stopping.Dispose();

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var nextProbe = DateTime.MinValue;
        var reconciled = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var now = clock.GetUtcNow().UtcDateTime;
                await HeartbeatAsync(refreshProbes: now >= nextProbe, stoppingToken);
                if (now >= nextProbe)
                {
                    nextProbe = now + ProbeRefresh;
                }

                if (!reconciled)
                {
                    try
                    {
                        await ReconcileAtStartAsync(stoppingToken);
                        reconciled = true;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        logger.LogWarning(ex, "node {Node}: reconciliation at start failed; trying again at the next heartbeat", NodeName);
                    }
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or DbUpdateException or TimeoutException or InvalidOperationException)
            {
                logger.LogWarning("node {Node}: heartbeat failed ({Reason}); retrying in {Seconds} s", NodeName, ex.GetBaseException().Message, Interval.TotalSeconds);
            }
            catch (Exception ex)
            {
                if (stoppingToken.IsCancellationRequested)
                {
                    // The process is stopping (Ctrl+C, or its start failed, e.g. the port is taken): whatever a pass
                    // cut short by the stop hit - a cancelled query included - is moot, not worth a stack trace.
                    return;
                }

                // Unexpected: the whole exception for the operator; the node shows offline until a heartbeat succeeds.
                logger.LogError(ex, "node {Node}: heartbeat failed; retrying in {Seconds} s", NodeName, Interval.TotalSeconds);
            }

            try
            {
                await Task.Delay(Interval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Once the node is registered: one reconciliation pass right away (operations whose job died
    /// with the previous process run again, guests that should run are started), then every minute
    /// on the node's own queue; usage sampling likewise.
    /// </summary>
    private async Task ReconcileAtStartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var report = await sp.GetRequiredService<Jobs.Vps.ReconcileJob>().RunAsync(atStart: true, cancellationToken);
        logger.LogInformation("node {Node}: reconciled at start ({Report})", NodeName, report);
        var recurring = sp.GetRequiredService<Hangfire.IRecurringJobManager>();
        OnThisNode<Jobs.Vps.MetricsJob>(recurring, Jobs.Vps.MetricsJob.RecurringId(NodeName), options.Jobs.MetricsCron, j => j.RunAsync(CancellationToken.None));
        OnThisNode<Jobs.Hosting.HostingContentJob>(recurring, Jobs.Hosting.HostingContentJob.RecurringId(NodeName), options.Jobs.HostingContentCron, j => j.RunAsync(CancellationToken.None));
        OnThisNode<Jobs.Vps.ReconcileJob>(recurring, Jobs.Vps.ReconcileJob.RecurringId(NodeName), options.Jobs.ReconcileCron, j => j.RunAsync(false, CancellationToken.None));
    }

    /// <summary>A recurring job on this node's queue at <paramref name="cron"/> (UTC); removed when the cron is empty.</summary>
    private void OnThisNode<TJob>(Hangfire.IRecurringJobManager recurring, string id, string? cron, System.Linq.Expressions.Expression<Func<TJob, Task>> run)
    {
        if (string.IsNullOrWhiteSpace(cron))
        {
            recurring.RemoveIfExists(id);
            return;
        }

        recurring.AddOrUpdate(id, JobsServiceCollectionExtensions.NodeQueue(NodeName), run, cron, new Hangfire.RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
    }

    private static long DiskSpace(string stateDirectory)
    {
        // The state folder may not exist yet on a new node: measure the filesystem it will live on.
        var dir = new DirectoryInfo(stateDirectory);
        while (dir is { Exists: false })
        {
            dir = dir.Parent;
        }

        return dir is null ? 0 : new DriveInfo(dir.FullName).TotalSize;
    }
}
