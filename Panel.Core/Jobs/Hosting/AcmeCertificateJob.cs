using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Panel.Core.Hosting.Acme;

namespace Panel.Core.Jobs.Hosting;

/// <summary>
/// Orders a site's certificate from the ACME server (<see cref="AcmeIssuer"/>), on the <c>default</c> queue. Takes the
/// site's id and reads everything else again; running late, twice or on two processes at once orders once (an advisory
/// lock per site, and a current ACME certificate is left alone). A failure is recorded on the site, not retried here:
/// the daily renewal job tries again.
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class AcmeCertificateJob(AcmeIssuer issuer)
{
    /// <summary>Queues the job for a site; returns the Hangfire job id.</summary>
    public static string Enqueue(IBackgroundJobClient jobs, int siteId)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return jobs.Create(Job.FromExpression<AcmeCertificateJob>(j => j.RunAsync(siteId, CancellationToken.None)), new EnqueuedState(JobsServiceCollectionExtensions.DefaultQueue));
    }

    /// <summary>One run for a site.</summary>
    [JobDisplayName("ACME certificate for site #{0}")]
    public async Task<string> RunAsync(int siteId, CancellationToken cancellationToken)
    {
        var (result, problem) = await issuer.RunAsync(siteId, cancellationToken);
        return problem is null ? result.ToString() : $"{result}: {problem}";
    }
}
