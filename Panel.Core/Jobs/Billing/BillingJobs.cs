using Hangfire;
using Microsoft.Extensions.Logging;
using Panel.Core.Services;

namespace Panel.Core.Jobs.Billing;

/// <summary>The billing jobs' schedules: installation-wide recurring jobs on the <c>default</c> queue (any process runs them).</summary>
public static class BillingJobs
{
    private static readonly RecurringJobOptions Utc = new() { TimeZone = TimeZoneInfo.Utc };

    /// <summary>Registers (or removes, when a cron is empty) the recurring metering, invoice, dunning, throttle and payment-retry jobs.</summary>
    public static void Register(IRecurringJobManager recurring, BillingOptions options)
    {
        ArgumentNullException.ThrowIfNull(recurring);
        ArgumentNullException.ThrowIfNull(options);
        Schedule<MeterUsageJob>(recurring, MeterUsageJob.RecurringId, options.MeterCron, j => j.RunAsync(CancellationToken.None));
        Schedule<InvoiceJob>(recurring, InvoiceJob.RecurringId, options.InvoiceCron, j => j.RunAsync(CancellationToken.None));
        Schedule<DunningJob>(recurring, DunningJob.RecurringId, options.DunningCron, j => j.RunAsync(CancellationToken.None));
        Schedule<AllowanceThrottleJob>(recurring, AllowanceThrottleJob.RecurringId, options.ThrottleCron, j => j.RunAsync(CancellationToken.None));
        // Gateway charges whose outcome was not learned are repeated (same key) every few minutes; a no-op without a gateway.
        Schedule<PaymentRetryJob>(recurring, PaymentRetryJob.RecurringId, "*/5 * * * *", j => j.RunAsync(CancellationToken.None));
    }

    /// <summary>Adds or updates a recurring job on the default queue (UTC), or removes it when <paramref name="cron"/> is empty.</summary>
    private static void Schedule<T>(IRecurringJobManager recurring, string id, string? cron, System.Linq.Expressions.Expression<Func<T, Task>> run)
    {
        if (string.IsNullOrWhiteSpace(cron))
        {
            recurring.RemoveIfExists(id);
        }
        else
        {
            recurring.AddOrUpdate(id, JobsServiceCollectionExtensions.DefaultQueue, run, cron, Utc);
        }
    }
}

/// <summary>
/// Hourly: meters every VPS's ended hours (<see cref="UsageMeter"/>). Safe to run late, twice or on two
/// processes at once: runs queue on the meter's watermark row, and each (VPS, hour) counts once.
/// </summary>
[AutomaticRetry(Attempts = 3)]
public sealed class MeterUsageJob(UsageMeter meter, ILogger<MeterUsageJob> logger)
{
    /// <summary>The recurring job's id.</summary>
    public const string RecurringId = "billing-meter";

    /// <summary>One run. Returns the VPS-hours metered.</summary>
    [JobDisplayName("Meter usage")]
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var hours = await meter.MeterAsync(cancellationToken);
        if (hours > 0)
        {
            logger.LogInformation("metering: {Hours} VPS-hours metered", hours);
        }

        return hours;
    }
}

/// <summary>
/// Hourly: meters, then issues every invoice whose period has ended (<see cref="InvoicingService"/>);
/// each (customer, period) once, however often, late or concurrently it runs.
/// </summary>
[AutomaticRetry(Attempts = 3)]
public sealed class InvoiceJob(InvoicingService invoicing)
{
    /// <summary>The recurring job's id.</summary>
    public const string RecurringId = "billing-invoices";

    /// <summary>One run.</summary>
    [JobDisplayName("Issue invoices")]
    public Task<InvoiceRunReport> RunAsync(CancellationToken cancellationToken) => invoicing.IssueDueAsync(cancellationToken);
}

/// <summary>
/// Hourly: reminders, suspensions, terminations and lifted suspensions (<see cref="DunningService"/>);
/// each step once per invoice, however often, late or concurrently it runs.
/// </summary>
[AutomaticRetry(Attempts = 3)]
public sealed class DunningJob(DunningService dunning)
{
    /// <summary>The recurring job's id.</summary>
    public const string RecurringId = "billing-dunning";

    /// <summary>One run.</summary>
    [JobDisplayName("Dunning")]
    public Task<DunningRunReport> RunAsync(CancellationToken cancellationToken) => dunning.RunAsync(cancellationToken);
}

/// <summary>
/// Hourly: throttles VPSes on throttling plans whose traffic this billing period reached the allowance, and
/// restores those whose period ended (<see cref="ThrottleService"/>); each through one VPS operation, however
/// often, late or concurrently it runs.
/// </summary>
[AutomaticRetry(Attempts = 3)]
public sealed class AllowanceThrottleJob(ThrottleService throttle)
{
    /// <summary>The recurring job's id.</summary>
    public const string RecurringId = "billing-throttle";

    /// <summary>One run.</summary>
    [JobDisplayName("Throttle used-up allowances")]
    public Task<ThrottleRunReport> RunAsync(CancellationToken cancellationToken) => throttle.RunAsync(cancellationToken);
}

/// <summary>Every 5 minutes: completes gateway charges whose outcome is not known yet (<see cref="PaymentService.RetryPendingAsync"/>).</summary>
[AutomaticRetry(Attempts = 0)]
public sealed class PaymentRetryJob(PaymentService payments)
{
    /// <summary>The recurring job's id.</summary>
    public const string RecurringId = "billing-payment-retry";

    /// <summary>Runs it.</summary>
    public Task<int> RunAsync(CancellationToken cancellationToken) => payments.RetryPendingAsync(cancellationToken);
}
