using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>What one dunning run did.</summary>
/// <param name="Reminders">Reminders queued in the outbox.</param>
/// <param name="Suspended">VPS suspensions requested.</param>
/// <param name="Unsuspended">Dunning suspensions lifted (unsuspend requested).</param>
/// <param name="Terminated">VPS deletions requested.</param>
public sealed record DunningRunReport(int Reminders, int Suspended, int Unsuspended, int Terminated)
{
    /// <summary>Website names removed with terminated hosting (domains and aliases).</summary>
    public int SitesRemoved { get; init; }
}

/// <summary>
/// Dunning: for each customer with open invoices, reminders before and after the due date (mail in the
/// outbox), suspension of every VPS once an invoice is <see cref="DunningSettings.SuspendAfterDays"/>
/// overdue, deletion once it is <see cref="DunningSettings.TerminateAfterDays"/> overdue, and - as soon
/// as no invoice is overdue that long any more - the lifting of exactly the suspensions dunning made.
/// Each customer is handled under an advisory lock (runs, payments and a second process queue per
/// customer); each reminder and notice is claimed once per invoice and step in <c>dunning_events</c>
/// in the same transaction as its mail, so a run that is late, repeated or concurrent does nothing twice.
/// VPS work goes through <see cref="VpsService"/> as the system admin, so it is an ordinary operation;
/// a VPS busy with another operation is left for the next run.
/// </summary>
public sealed class DunningService(
    IDbContextFactory<PanelDbContext> dbFactory,
    VpsService vpses,
    HostingService hosting,
    MailOutbox outbox,
    AuditLog audit,
    TimeProvider clock,
    ILogger<DunningService> logger)
{
    /// <summary>The advisory lock key space of dunning ("DN"); the second key is the customer's hash.</summary>
    public const int LockSpace = 0x444E;

    /// <summary>One run over every customer with something to do.</summary>
    public async Task<DunningRunReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        HashSet<Guid> customers;
        DunningSettings settings;
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            settings = await SettingsService.DunningAsync(db, cancellationToken);
            customers = [.. await db.DunningSuspensions.Select(s => s.CustomerId).Distinct().ToListAsync(cancellationToken)];
            if (settings.Enabled)
            {
                var horizon = now.AddDays(settings.RemindBeforeDays.DefaultIfEmpty(0).Max());
                customers.UnionWith(await db.Invoices.Where(i => i.Status == InvoiceStatus.Open && i.DueAt <= horizon).Select(i => i.CustomerId).Distinct().ToListAsync(cancellationToken));
            }
        }

        var tally = new Tally();
        foreach (var customer in customers.Order())
        {
            await CustomerAsync(customer, settings, now, liftOnly: false, tally, cancellationToken);
        }

        var report = tally.Report();
        if (report != new DunningRunReport(0, 0, 0, 0))
        {
            logger.LogInformation("dunning run: {Report}", report);
        }

        return report;
    }

    /// <summary>One customer's pass, as the job does it.</summary>
    internal async Task<DunningRunReport> RunForCustomerAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var tally = new Tally();
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            await CustomerAsync(customerId, await SettingsService.DunningAsync(db, cancellationToken), clock.GetUtcNow().UtcDateTime, liftOnly: false, tally, cancellationToken);
        }

        return tally.Report();
    }

    /// <summary>
    /// After a payment: if the customer has no invoice overdue past the suspension threshold any more,
    /// lifts the suspensions dunning made (at once; the job repeats it for any VPS that was busy).
    /// Never throws for the caller (the payment is already committed); a failure is logged and the job retries.
    /// </summary>
    public async Task LiftIfPaidAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            if (!await db.DunningSuspensions.AnyAsync(s => s.CustomerId == customerId, cancellationToken))
            {
                return;
            }

            await CustomerAsync(customerId, await SettingsService.DunningAsync(db, cancellationToken), clock.GetUtcNow().UtcDateTime, liftOnly: true, new Tally(), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "dunning: lifting the suspensions of user:{Customer} failed; the dunning job retries", customerId);
        }
    }

    /// <summary>The reminder step due for an invoice at <paramref name="now"/>: the latest one reached (earlier missed ones are not sent late), or null.</summary>
    public static string? ReminderStep(DunningSettings settings, DateTime dueAt, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (now < dueAt)
        {
            var before = settings.RemindBeforeDays.Where(d => now >= dueAt.AddDays(-d)).ToList();
            return before.Count == 0 ? null : DunningSteps.Before(before.Min());
        }

        var after = settings.RemindAfterDays.Where(d => now >= dueAt.AddDays(d)).ToList();
        return after.Count == 0 ? null : DunningSteps.After(after.Max());
    }

    private async Task CustomerAsync(Guid customerId, DunningSettings settings, DateTime now, bool liftOnly, Tally tally, CancellationToken cancellationToken)
    {
        var audits = new List<(string Action, string Target, string Details)>();
        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            // One pass per customer at a time, across processes (released with the transaction).
            await db.Database.ExecuteSqlInterpolatedAsync($"SELECT pg_advisory_xact_lock({LockSpace}, hashtext({customerId.ToString()}))", cancellationToken);
            var open = await db.Invoices.AsNoTracking().Where(i => i.CustomerId == customerId && i.Status == InvoiceStatus.Open)
                .OrderBy(i => i.DueAt).ThenBy(i => i.Id).ToListAsync(cancellationToken);
            var email = await db.Users.Where(u => u.Id == customerId).Select(u => u.Email).FirstOrDefaultAsync(cancellationToken);
            var currency = await SettingsService.CurrencyAsync(db, cancellationToken);
            var suspending = open.FirstOrDefault(i => now >= i.DueAt.AddDays(settings.SuspendAfterDays));
            var terminating = open.FirstOrDefault(i => now >= i.DueAt.AddDays(settings.TerminateAfterDays));

            if (settings.Enabled && !liftOnly)
            {
                foreach (var invoice in open)
                {
                    if (ReminderStep(settings, invoice.DueAt, now) is { } step && await ClaimAsync(db, invoice, step, now, $"reminder to {email}", cancellationToken))
                    {
                        Mail(db, email, ReminderSubject(invoice, now), ReminderBody(invoice, currency, settings, now));
                        audits.Add((AuditActions.DunningReminder, $"invoice:{invoice.Id}", $"{invoice.Number}: {step} reminder to {email}"));
                        tally.Reminders++;
                    }
                }

                if (terminating is not null)
                {
                    await TerminateAsync(db, customerId, email, terminating, settings, now, audits, tally, cancellationToken);
                }
                else if (suspending is not null)
                {
                    await SuspendAsync(db, customerId, email, suspending, settings, now, audits, tally, cancellationToken);
                }
            }

            if (suspending is null)
            {
                await LiftAsync(db, customerId, email, now, audits, tally, cancellationToken);
            }

            await db.SaveChangesAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
        }

        foreach (var (action, target, details) in audits)
        {
            await audit.RecordAsync(Actor.System, action, target, details, cancellationToken);
        }
    }

    private async Task SuspendAsync(PanelDbContext db, Guid customerId, string? email, Invoice invoice, DunningSettings settings, DateTime now,
        List<(string, string, string)> audits, Tally tally, CancellationToken cancellationToken)
    {
        var reason = string.Create(CultureInfo.InvariantCulture, $"unpaid invoice {invoice.Number} (due {invoice.DueAt:yyyy-MM-dd})");
        var live = await LiveVpsesAsync(db, customerId, cancellationToken);
        var suspended = new List<string>();
        foreach (var vps in live.Where(v => v.Status != VpsStatus.Suspended && v.NodeId != null))
        {
            if (vps.BusyOperationId is not null)
            {
                continue; // busy (or its suspension is under way): the next run looks again
            }

            // Recorded before the request: a crash in between leaves a row the next run completes,
            // never a dunning suspension that payment would not lift.
            await WriteAsync(w => w.Database.ExecuteSqlInterpolatedAsync(
                $"""
                INSERT INTO dunning_suspensions (vps_id, customer_id, invoice_id, operation_id, created_at) VALUES ({vps.Id}, {customerId}, {invoice.Id}, NULL, {now})
                ON CONFLICT (vps_id) DO UPDATE SET invoice_id = excluded.invoice_id, operation_id = NULL, created_at = excluded.created_at
                """, cancellationToken), cancellationToken);
            try
            {
                var operationId = await vpses.SuspendAsync(Actor.System, vps.Id, reason, cancellationToken);
                await WriteAsync(w => w.DunningSuspensions.Where(s => s.VpsId == vps.Id).ExecuteUpdateAsync(s => s.SetProperty(x => x.OperationId, operationId), cancellationToken), cancellationToken);
                suspended.Add(vps.Hostname);
                audits.Add((AuditActions.DunningSuspend, $"vps:{vps.Id}", $"{vps.Hostname}: {reason}, {DaysOverdue(invoice, now)} days overdue"));
                tally.Suspended++;
            }
            catch (PanelRefusedException ex)
            {
                await WriteAsync(w => w.DunningSuspensions.Where(s => s.VpsId == vps.Id).ExecuteDeleteAsync(cancellationToken), cancellationToken);
                logger.LogWarning("dunning: vps:{Vps} not suspended now ({Reason}); the next run tries again", vps.Id, ex.Message);
            }
        }

        if (suspended.Count > 0 && await ClaimAsync(db, invoice, DunningSteps.Suspend, now, "suspended " + string.Join(", ", suspended), cancellationToken))
        {
            Mail(db, email, $"Your servers are suspended: invoice {invoice.Number} is unpaid",
                $"""
                Hello,

                invoice {invoice.Number} ({Amount(invoice)}) was due on {Day(invoice.DueAt)} and is still unpaid, so these servers are suspended: {string.Join(", ", suspended)}.
                They keep their data and start again as soon as the invoice is paid.
                Unless it is paid by {Day(invoice.DueAt.AddDays(settings.TerminateAfterDays))}, they will be deleted together with their backups.
                """);
        }
    }

    private async Task TerminateAsync(PanelDbContext db, Guid customerId, string? email, Invoice invoice, DunningSettings settings, DateTime now,
        List<(string, string, string)> audits, Tally tally, CancellationToken cancellationToken)
    {
        var deleted = new List<string>();
        var sites = new List<string>();
        var deletedIds = new HashSet<int>();
        foreach (var vps in await LiveVpsesAsync(db, customerId, cancellationToken))
        {
            if (vps.BusyOperationId is not null)
            {
                continue; // the next run deletes it once its operation has ended
            }

            try
            {
                await vpses.DeleteAsync(Actor.System, vps.Id, cancellationToken);
                await WriteAsync(w => w.DunningSuspensions.Where(s => s.VpsId == vps.Id).ExecuteDeleteAsync(cancellationToken), cancellationToken);
                deleted.Add(vps.Hostname);
                deletedIds.Add(vps.Id);
                audits.Add((AuditActions.DunningTerminate, $"vps:{vps.Id}",
                    string.Create(CultureInfo.InvariantCulture, $"{vps.Hostname}: unpaid invoice {invoice.Number}, {DaysOverdue(invoice, now)} days overdue (terminate after {settings.TerminateAfterDays})")));
                tally.Terminated++;
            }
            catch (PanelRefusedException ex)
            {
                logger.LogWarning("dunning: vps:{Vps} not deleted now ({Reason}); the next run tries again", vps.Id, ex.Message);
            }
        }

        // Their web hosting goes with its container: once no live container serves the tenant's space, the sites,
        // names and certificates are removed (the names are free for others; the edge routes them no more).
        var space = await db.HostingSpaces.AsNoTracking().Where(s => s.OwnerId == customerId).Select(s => new { s.Id, s.VpsId }).FirstOrDefaultAsync(cancellationToken);
        if (space is not null && (space.VpsId is not { } boxId || deletedIds.Contains(boxId) || !await db.Vpses.AnyAsync(v => v.Id == space.VpsId && v.DeletedAt == null && v.Status != VpsStatus.Deleted && v.Status != VpsStatus.Deleting, cancellationToken)))
        {
            var reason = string.Create(CultureInfo.InvariantCulture, $"unpaid invoice {invoice.Number}, {DaysOverdue(invoice, now)} days overdue (terminate after {settings.TerminateAfterDays})");
            var names = await hosting.TerminateAsync(Actor.System, customerId, reason, cancellationToken);
            sites.AddRange(names);
            tally.TerminatedSites += names.Count;
        }

        var what = string.Join(", ", deleted.Concat(sites.Count == 0 ? [] : ["websites " + string.Join(", ", sites)]));
        if (deleted.Count + sites.Count > 0 && await ClaimAsync(db, invoice, DunningSteps.Terminate, now, "deleted " + what, cancellationToken))
        {
            Mail(db, email, $"Your servers were deleted: invoice {invoice.Number} is unpaid",
                $"""
                Hello,

                invoice {invoice.Number} ({Amount(invoice)}) was due on {Day(invoice.DueAt)} and is still unpaid after {settings.TerminateAfterDays} days, so these servers and their backups were deleted: {what}.
                {(sites.Count == 0 ? "" : "Your websites were removed with their hosting; their domain names are no longer held for you.\n")}The invoice stays open.
                """);
        }
    }

    private async Task LiftAsync(PanelDbContext db, Guid customerId, string? email, DateTime now, List<(string, string, string)> audits, Tally tally, CancellationToken cancellationToken)
    {
        var rows = await db.DunningSuspensions.AsNoTracking().Where(s => s.CustomerId == customerId).OrderBy(s => s.VpsId).ToListAsync(cancellationToken);
        var lifted = new List<(string Host, long InvoiceId)>();
        foreach (var row in rows)
        {
            var vps = await db.Vpses.AsNoTracking().FirstOrDefaultAsync(v => v.Id == row.VpsId, cancellationToken);
            if (vps is not null && vps.DeletedAt is null && vps.Status is not (VpsStatus.Deleted or VpsStatus.Deleting))
            {
                if (vps.BusyOperationId is not null)
                {
                    continue; // its suspension (or another operation) is still running: the next run lifts it
                }

                if (vps.Status == VpsStatus.Suspended)
                {
                    try
                    {
                        await vpses.UnsuspendAsync(Actor.System, vps.Id, cancellationToken);
                    }
                    catch (PanelRefusedException ex)
                    {
                        logger.LogWarning("dunning: vps:{Vps} not unsuspended now ({Reason}); the next run tries again", vps.Id, ex.Message);
                        continue;
                    }

                    lifted.Add((vps.Hostname, row.InvoiceId));
                    audits.Add((AuditActions.DunningUnsuspend, $"vps:{vps.Id}", $"{vps.Hostname}: the overdue invoices are paid"));
                    tally.Unsuspended++;
                }
            }

            // Lifted now, by an admin, or the VPS is gone: dunning no longer holds it.
            await WriteAsync(w => w.DunningSuspensions.Where(s => s.VpsId == row.VpsId).ExecuteDeleteAsync(cancellationToken), cancellationToken);
        }

        foreach (var byInvoice in lifted.GroupBy(l => l.InvoiceId))
        {
            var invoice = await db.Invoices.AsNoTracking().FirstAsync(i => i.Id == byInvoice.Key, cancellationToken);
            if (await ClaimAsync(db, invoice, "unsuspend", now, "unsuspended " + string.Join(", ", byInvoice.Select(l => l.Host)), cancellationToken))
            {
                Mail(db, email, "Your servers run again",
                    $"""
                    Hello,

                    thank you for your payment. These servers are no longer suspended and start again now: {string.Join(", ", byInvoice.Select(l => l.Host))}.
                    """);
            }
        }
    }

    private static Task<List<Vps>> LiveVpsesAsync(PanelDbContext db, Guid customerId, CancellationToken cancellationToken)
        => db.Vpses.AsNoTracking().Where(v => v.OwnerId == customerId && v.DeletedAt == null && v.Status != VpsStatus.Deleted && v.Status != VpsStatus.Deleting)
            .OrderBy(v => v.Id).ToListAsync(cancellationToken);

    /// <summary>Claims one step of one invoice (in the caller's transaction): true the first time only.</summary>
    private static async Task<bool> ClaimAsync(PanelDbContext db, Invoice invoice, string step, DateTime now, string details, CancellationToken cancellationToken)
    {
        var text = details.Length <= 2000 ? details : details[..2000];
        return await db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            INSERT INTO dunning_events (invoice_id, customer_id, step, at, details) VALUES ({invoice.Id}, {invoice.CustomerId}, {step}, {now}, {text})
            ON CONFLICT (invoice_id, step) DO NOTHING
            """,
            cancellationToken) == 1;
    }

    /// <summary>A write of its own, committed at once (what it records must outlive a failure of the pass).</summary>
    private async Task WriteAsync(Func<PanelDbContext, Task<int>> write, CancellationToken cancellationToken)
    {
        await using var w = await dbFactory.CreateDbContextAsync(cancellationToken);
        await write(w);
    }

    private void Mail(PanelDbContext db, string? to, string subject, string body)
    {
        if (string.IsNullOrWhiteSpace(to))
        {
            return;
        }

        try
        {
            outbox.Enqueue(db, to, subject, body);
        }
        catch (PanelRefusedException ex)
        {
            logger.LogWarning("dunning: no mail to {To}: {Reason}", to, ex.Message);
        }
    }

    private static string ReminderSubject(Invoice invoice, DateTime now)
        => now < invoice.DueAt ? $"Reminder: invoice {invoice.Number} is due on {Day(invoice.DueAt)}" : $"Overdue: invoice {invoice.Number} was due on {Day(invoice.DueAt)}";

    private static string ReminderBody(Invoice invoice, string currency, DunningSettings settings, DateTime now)
        => $"""
           Hello,

           invoice {invoice.Number} over {invoice.Total.ToString("0.00", CultureInfo.InvariantCulture)} {currency} {(now < invoice.DueAt ? "is due on" : "was due on")} {Day(invoice.DueAt)} and is not paid yet.
           Please pay it in the panel (from your balance or as your provider tells you).
           Unpaid, your servers are suspended on {Day(invoice.DueAt.AddDays(settings.SuspendAfterDays))} and deleted with their backups on {Day(invoice.DueAt.AddDays(settings.TerminateAfterDays))}.
           """;

    private static string Amount(Invoice invoice) => string.Create(CultureInfo.InvariantCulture, $"{invoice.Total:0.00} {invoice.Currency}");

    private static string Day(DateTime at) => at.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static int DaysOverdue(Invoice invoice, DateTime now) => (int)Math.Floor((now - invoice.DueAt).TotalDays);

    private sealed class Tally
    {
        public int Reminders { get; set; }

        public int Suspended { get; set; }

        public int Unsuspended { get; set; }

        public int Terminated { get; set; }

        public int TerminatedSites { get; set; }

        public DunningRunReport Report() => new(Reminders, Suspended, Unsuspended, Terminated) { SitesRemoved = TerminatedSites };
    }
}
