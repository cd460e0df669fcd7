using Hangfire;
using Microsoft.Extensions.Logging;
using Panel.Core.Services;

namespace Panel.Core.Jobs.Hosting;

/// <summary>
/// Daily: reissues the site certificates of the panel CA that expire within 30 days (or are missing), and queues an
/// ACME order (<see cref="AcmeCertificateJob"/>) for each site on ACME whose certificate is due or is not from ACME
/// (its last order failed). Safe to run late, twice or on two processes: a renewed certificate is no longer due, and
/// a second ACME job for the same site orders nothing.
/// </summary>
[AutomaticRetry(Attempts = 3)]
public sealed class CertificateRenewalJob(HostingService hosting, ILogger<CertificateRenewalJob> logger)
{
    /// <summary>The recurring job's id.</summary>
    public const string RecurringId = "hosting-certificates";

    /// <summary>Registers (or removes, when the cron is empty) the recurring job on the <c>default</c> queue.</summary>
    public static void Register(IRecurringJobManager recurring, EdgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(recurring);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.RenewCron))
        {
            recurring.RemoveIfExists(RecurringId);
            return;
        }

        recurring.AddOrUpdate<CertificateRenewalJob>(RecurringId, JobsServiceCollectionExtensions.DefaultQueue, j => j.RunAsync(CancellationToken.None),
            options.RenewCron, new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
    }

    /// <summary>One run. Returns the certificates reissued (panel CA) plus the ACME orders queued.</summary>
    [JobDisplayName("Renew site certificates")]
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var renewed = await hosting.RenewCertificatesAsync(cancellationToken);
        if (renewed > 0)
        {
            logger.LogInformation("edge: {Count} site certificates reissued or ordered", renewed);
        }

        return renewed;
    }
}
