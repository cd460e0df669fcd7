using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Panel.Core.Domain.Compute;
using Panel.Core.Hosting;
using Panel.Core.Persistence;
using Panel.Core.Services;

namespace Panel.Core.Jobs.Hosting;

/// <summary>
/// Measures what a hosting space's sites hold on disk - every file, whoever wrote it: a zip, the file manager,
/// SFTP, the site's own server - and records it per site (what the pages show and what the next upload is
/// checked against). Runs on the node queue of the space's container: queued by the SFTP gateway when a session
/// ends, and for every running hosting container of the node on <see cref="JobsOptions.HostingContentCron"/>.
/// Takes ids and reads everything again; a container that does not run here is left alone.
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class HostingContentJob(IDbContextFactory<PanelDbContext> dbFactory, HostingRuntime runtime, PanelOptions options, ILogger<HostingContentJob> logger)
{
    /// <summary>The recurring job's id for a node.</summary>
    public static string RecurringId(string node) => "hosting-content-" + JobsServiceCollectionExtensions.NodeKey(node);

    /// <summary>Queues a measure of one space on a node's queue; returns the Hangfire job id.</summary>
    public static string Enqueue(IBackgroundJobClient jobs, int spaceId, string nodeName)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return jobs.Create(Job.FromExpression<HostingContentJob>(j => j.MeasureAsync(spaceId, CancellationToken.None)),
            new EnqueuedState(JobsServiceCollectionExtensions.NodeQueue(nodeName)));
    }

    /// <summary>Measures one space's sites; returns how many sites' figures changed.</summary>
    [JobDisplayName("Measure the websites of hosting space #{0}")]
    public async Task<int> MeasureAsync(int spaceId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var space = await RunningHere(db).Where(s => s.Id == spaceId)
            .Select(s => new { s.Vps!.EngineId, Sites = s.Sites.Select(x => new { x.Id, x.ContentBytes }).ToList() })
            .FirstOrDefaultAsync(cancellationToken);
        if (space is null || space.EngineId.Length == 0)
        {
            return 0; // gone, not running, or on another node
        }

        IReadOnlyDictionary<int, long> sizes;
        try
        {
            sizes = await runtime.MeasureAsync(space.EngineId, cancellationToken);
        }
        catch (PanelRefusedException ex)
        {
            logger.LogDebug("hosting space {Space}: not measured: {Reason}", spaceId, ex.Message);
            return 0;
        }

        var changed = 0;
        foreach (var site in space.Sites)
        {
            var bytes = sizes.GetValueOrDefault(site.Id);
            if (bytes != site.ContentBytes)
            {
                changed += await db.Sites.Where(s => s.Id == site.Id).ExecuteUpdateAsync(s => s.SetProperty(x => x.ContentBytes, bytes), cancellationToken);
            }
        }

        return changed;
    }

    /// <summary>Measures every running hosting container of this node; returns how many sites' figures changed.</summary>
    [JobDisplayName("Measure websites")]
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        List<int> spaces;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            spaces = await RunningHere(db).OrderBy(s => s.Id).Select(s => s.Id).ToListAsync(cancellationToken);
        }

        var changed = 0;
        foreach (var id in spaces)
        {
            changed += await MeasureAsync(id, cancellationToken);
        }

        if (changed > 0)
        {
            logger.LogInformation("hosting: content of {Count} site(s) measured anew", changed);
        }

        return changed;
    }

    /// <summary>The hosting spaces whose container runs on this node.</summary>
    private IQueryable<Domain.Hosting.HostingSpace> RunningHere(PanelDbContext db)
    {
        var node = JobsServiceCollectionExtensions.NodeKey(options.Jobs.NodeName);
        return db.HostingSpaces.AsNoTracking()
            .Where(s => s.Vps != null && s.Vps.Status == VpsStatus.Running && s.Vps.Node != null && s.Vps.Node.Name == node);
    }
}
