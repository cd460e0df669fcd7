namespace Panel.Core.Domain.Billing;

/// <summary>
/// One dunning step taken for one invoice (a reminder, the suspension, the termination). Unique per
/// (invoice, step): inserting it is how a run claims the step, so each happens once however often or
/// concurrently the job runs.
/// </summary>
public sealed class DunningEvent
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>The invoice.</summary>
    public long InvoiceId { get; set; }

    /// <summary>The customer.</summary>
    public Guid CustomerId { get; set; }

    /// <summary>The step: <c>before-3d</c>, <c>after-7d</c>, <c>suspend</c>, <c>terminate</c> (see <see cref="DunningSteps"/>).</summary>
    public string Step { get; set; } = "";

    /// <summary>When it was taken (UTC).</summary>
    public DateTime At { get; set; }

    /// <summary>What was done (readable).</summary>
    public string? Details { get; set; }
}

/// <summary>
/// A VPS that dunning suspended (and only those): paying the overdue invoices lifts exactly these
/// suspensions, never one an admin made for another reason. Removed when lifted or the VPS is deleted.
/// </summary>
public sealed class DunningSuspension
{
    /// <summary>The VPS (the key: one dunning suspension at a time).</summary>
    public int VpsId { get; set; }

    /// <summary>Its owner.</summary>
    public Guid CustomerId { get; set; }

    /// <summary>The overdue invoice that caused it.</summary>
    public long InvoiceId { get; set; }

    /// <summary>The suspend operation, once requested.</summary>
    public long? OperationId { get; set; }

    /// <summary>When it was made (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>The names of dunning steps.</summary>
public static class DunningSteps
{
    /// <summary>The servers were suspended.</summary>
    public const string Suspend = "suspend";

    /// <summary>The servers were deleted.</summary>
    public const string Terminate = "terminate";

    /// <summary>The reminder <paramref name="days"/> days before the due date.</summary>
    public static string Before(int days) => FormattableString.Invariant($"before-{days}d");

    /// <summary>The reminder <paramref name="days"/> days after the due date.</summary>
    public static string After(int days) => FormattableString.Invariant($"after-{days}d");
}

/// <summary>
/// What dunning does (admins set it; kept in the settings store). Days count from the invoice's due date.
/// </summary>
/// <param name="Enabled">Whether the dunning job acts at all (paying still lifts a dunning suspension when off).</param>
/// <param name="RemindBeforeDays">Reminders this many days before the due date (e.g. 3).</param>
/// <param name="RemindAfterDays">Reminders this many days after it (e.g. 1 and 7).</param>
/// <param name="SuspendAfterDays">Every VPS of the customer is suspended once an invoice is this many days overdue.</param>
/// <param name="TerminateAfterDays">Every VPS of the customer is deleted once an invoice is this many days overdue (more than <paramref name="SuspendAfterDays"/>).</param>
public sealed record DunningSettings(bool Enabled, IReadOnlyList<int> RemindBeforeDays, IReadOnlyList<int> RemindAfterDays, int SuspendAfterDays, int TerminateAfterDays)
{
    /// <summary>The most days any step may lie from the due date.</summary>
    public const int MaxDays = 365;

    /// <summary>The most reminders on either side of the due date.</summary>
    public const int MaxReminders = 5;

    /// <summary>A new installation's settings: off, reminders 3 days before and 1 and 7 days after, suspend at 14, terminate at 30.</summary>
    public static DunningSettings Default { get; } = new(false, [3], [1, 7], 14, 30);
}
