using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Jobs.Billing;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>
/// The dunning job's rules on a simulated clock (no node here: the VPS operations it requests are
/// checked as accepted, and a suspension's end is written as its job would). The full cycle with a
/// real container is <c>Provisioning.DunningCycleTests</c>.
/// </summary>
public sealed class DunningTests(BillingFixture fixture) : BillingTest(fixture)
{
    private static readonly DunningSettings Settings = new(true, [3], [1, 7], 14, 30);

    [Fact]
    public async Task Running_the_job_twice_takes_each_step_once_and_payment_lifts_only_the_dunning_suspension()
    {
        var (customer, running, byAdmin, invoice) = await OverdueWorldAsync();
        (await RunTwiceAsync()).ShouldBe(new DunningRunReport(0, 0, 0, 0)); // off by default: nothing happens
        await WithAsync<SettingsService, bool>(async s => { await s.SetDunningAsync(Admin, Settings, Ct); return true; });

        // Reminders: 3 days before, then 1 and 7 days after the due date; each once.
        Clock.Set(invoice.DueAt.AddDays(-2));
        (await RunTwiceAsync()).Reminders.ShouldBe(1);
        Clock.Set(invoice.DueAt.AddDays(1));
        (await RunTwiceAsync()).Reminders.ShouldBe(1);
        Clock.Set(invoice.DueAt.AddDays(8));
        (await RunTwiceAsync()).Reminders.ShouldBe(1);
        await using (var db = Db())
        {
            (await db.DunningEvents.Where(e => e.InvoiceId == invoice.Id).OrderBy(e => e.Id).Select(e => e.Step).ToListAsync(Ct)).ShouldBe(["before-3d", "after-1d", "after-7d"]);
            var mails = await db.MailOutbox.OrderBy(m => m.Id).ToListAsync(Ct);
            mails.Select(m => m.Subject).ShouldBe([
                $"Reminder: invoice {invoice.Number} is due on {invoice.DueAt:yyyy-MM-dd}",
                $"Overdue: invoice {invoice.Number} was due on {invoice.DueAt:yyyy-MM-dd}",
                $"Overdue: invoice {invoice.Number} was due on {invoice.DueAt:yyyy-MM-dd}"]);
            mails.ShouldAllBe(m => m.To == mails[0].To && m.To.EndsWith("@example.com"));
            (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.DunningReminder, Ct)).ShouldBe(3);
        }

        // 14 days overdue: the running VPS is suspended once; the one an admin suspended is left alone.
        Clock.Set(invoice.DueAt.AddDays(14));
        (await RunTwiceAsync()).Suspended.ShouldBe(1);
        Operation suspend;
        await using (var db = Db())
        {
            suspend = await db.Operations.SingleAsync(o => o.Kind == OperationKind.Suspend, Ct);
            suspend.VpsId.ShouldBe(running);
            suspend.Parameters!.ShouldContain($"unpaid invoice {invoice.Number}");
            (await db.DunningSuspensions.SingleAsync(Ct)).ShouldSatisfyAllConditions(s => s.VpsId.ShouldBe(running), s => s.OperationId.ShouldBe(suspend.Id));
            (await db.MailOutbox.CountAsync(m => m.Subject.StartsWith("Your servers are suspended"), Ct)).ShouldBe(1);
            (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.DunningSuspend && e.Target == $"vps:{running}", Ct)).ShouldBe(1);
            // The suspension ran (as SuspendJob leaves it).
            await db.Vpses.Where(v => v.Id == running).ExecuteUpdateAsync(s => s.SetProperty(v => v.Status, VpsStatus.Suspended)
                .SetProperty(v => v.StatusReason, $"unpaid invoice {invoice.Number}").SetProperty(v => v.BusyOperationId, (long?)null), Ct);
        }

        (await RunTwiceAsync()).ShouldBe(new DunningRunReport(0, 0, 0, 0));

        // Paying lifts the dunning suspension at once; the admin's stays.
        var paid = await WithAsync<BillingService, PaymentResult>(b => b.RecordPaymentAsync(Admin, invoice.Id, invoice.Total, "bank", Ct));
        paid.InvoicePaid.ShouldBeTrue();
        await using (var db = Db())
        {
            var unsuspend = await db.Operations.SingleAsync(o => o.Kind == OperationKind.Unsuspend, Ct);
            unsuspend.VpsId.ShouldBe(running);
            (await db.DunningSuspensions.CountAsync(Ct)).ShouldBe(0);
            (await db.Vpses.SingleAsync(v => v.Id == byAdmin, Ct)).ShouldSatisfyAllConditions(v => v.Status.ShouldBe(VpsStatus.Suspended), v => v.BusyOperationId.ShouldBeNull());
            (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.DunningUnsuspend && e.Target == $"vps:{running}", Ct)).ShouldBe(1);
            (await db.MailOutbox.CountAsync(m => m.Subject == "Your servers run again", Ct)).ShouldBe(1);
        }

        (await RunTwiceAsync()).ShouldBe(new DunningRunReport(0, 0, 0, 0));
        _ = customer;
    }

    [Fact]
    public async Task An_invoice_overdue_past_the_termination_day_deletes_every_vps_of_the_customer_once()
    {
        var (_, running, byAdmin, invoice) = await OverdueWorldAsync();
        await WithAsync<SettingsService, bool>(async s => { await s.SetDunningAsync(Admin, Settings, Ct); return true; });
        Clock.Set(invoice.DueAt.AddDays(30));

        var first = await WithAsync<DunningJob, DunningRunReport>(j => j.RunAsync(Ct));
        first.Terminated.ShouldBe(2);
        first.Suspended.ShouldBe(0); // straight to termination, no suspension first
        (await RunTwiceAsync()).Terminated.ShouldBe(0);
        await using var db = Db();
        (await db.Operations.Where(o => o.Kind == OperationKind.Delete).Select(o => o.VpsId!.Value).OrderBy(v => v).ToListAsync(Ct)).ShouldBe(new[] { running, byAdmin }.Order().ToList());
        (await db.Operations.CountAsync(o => o.Kind == OperationKind.Suspend, Ct)).ShouldBe(0);
        (await db.DunningEvents.SingleAsync(e => e.Step == DunningSteps.Terminate, Ct)).InvoiceId.ShouldBe(invoice.Id);
        (await db.MailOutbox.CountAsync(m => m.Subject.StartsWith("Your servers were deleted"), Ct)).ShouldBe(1);
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.DunningTerminate, Ct)).ShouldBe(2);
    }

    [Theory]
    [InlineData(-1, 30, "SuspendAfterDays")]
    [InlineData(14, 14, "TerminateAfterDays")]
    [InlineData(30, 14, "TerminateAfterDays")]
    [InlineData(14, 400, "TerminateAfterDays")]
    public async Task Bad_suspension_or_termination_days_are_refused_and_change_nothing(int suspend, int terminate, string field)
    {
        await WithAsync<SettingsService, bool>(async s => { await s.SetDunningAsync(Admin, Settings, Ct); return true; });
        var before = await BillingStateAsync();
        var refusal = await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<SettingsService, bool>(async s =>
        {
            await s.SetDunningAsync(Admin, Settings with { Enabled = false, SuspendAfterDays = suspend, TerminateAfterDays = terminate }, Ct);
            return true;
        }));
        refusal.Field.ShouldBe(field);
        (await BillingStateAsync()).ShouldBe(before);
        (await WithAsync<SettingsService, DunningSettings>(s => s.GetDunningAsync(Ct))).Enabled.ShouldBeTrue();
    }

    [Fact]
    public async Task Bad_reminder_days_and_non_admins_are_refused_good_values_round_trip_and_are_audited()
    {
        (await WithAsync<SettingsService, DunningSettings>(s => s.GetDunningAsync(Ct))).ShouldBe(DunningSettings.Default);
        async Task<Exception?> Refused(DunningSettings settings, Actor? actor = null)
        {
            try
            {
                await WithAsync<SettingsService, bool>(async s => { await s.SetDunningAsync(actor ?? Admin, settings, Ct); return true; });
                return null;
            }
            catch (Exception ex) when (ex is PanelRefusedException or UnauthorizedAccessException)
            {
                return ex;
            }
        }

        (await Refused(Settings with { RemindBeforeDays = [-3] })).ShouldBeOfType<PanelRefusedException>().Field.ShouldBe("RemindBeforeDays");
        (await Refused(Settings with { RemindAfterDays = [1, 1] })).ShouldBeOfType<PanelRefusedException>().Field.ShouldBe("RemindAfterDays");
        (await Refused(Settings with { RemindAfterDays = [1, 2, 3, 4, 5, 6] })).ShouldBeOfType<PanelRefusedException>().Field.ShouldBe("RemindAfterDays");
        (await Refused(Settings, new Actor(Guid.NewGuid(), "customer@example.com", IsAdmin: false))).ShouldBeOfType<UnauthorizedAccessException>();

        Should.Throw<PanelRefusedException>(() => SettingsService.ParseDays("1, seven")).Message.ShouldContain("seven");
        SettingsService.ParseDays(" 7, 1 ,").ShouldBe([7, 1]);
        await using (var db = Db())
        {
            (await db.Settings.CountAsync(s => s.Key.StartsWith("dunning."), Ct)).ShouldBe(0);
        }

        var wanted = new DunningSettings(true, [7, 2], [0, 5], 10, 45);
        await WithAsync<SettingsService, bool>(async s => { await s.SetDunningAsync(Admin, wanted, Ct); return true; });
        var stored = await WithAsync<SettingsService, DunningSettings>(s => s.GetDunningAsync(Ct));
        stored.Enabled.ShouldBeTrue();
        stored.RemindBeforeDays.ShouldBe([2, 7]);
        stored.RemindAfterDays.ShouldBe([0, 5]);
        (stored.SuspendAfterDays, stored.TerminateAfterDays).ShouldBe((10, 45));
        await using (var db = Db())
        {
            (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.SettingChanged && e.Target!.StartsWith("setting:dunning."), Ct)).ShouldBe(5);
        }

        DunningService.ReminderStep(stored, Utc(2026, 3, 10), Utc(2026, 3, 2)).ShouldBeNull();
        DunningService.ReminderStep(stored, Utc(2026, 3, 10), Utc(2026, 3, 4)).ShouldBe("before-7d");
        DunningService.ReminderStep(stored, Utc(2026, 3, 10), Utc(2026, 3, 9)).ShouldBe("before-2d");
        DunningService.ReminderStep(stored, Utc(2026, 3, 10), Utc(2026, 3, 10)).ShouldBe("after-0d");
        DunningService.ReminderStep(stored, Utc(2026, 3, 10), Utc(2026, 3, 20)).ShouldBe("after-5d");
    }

    /// <summary>A customer with a running VPS and one an admin suspended, and their open invoice for January.</summary>
    private async Task<(Guid Customer, int Running, int ByAdmin, Invoice Invoice)> OverdueWorldAsync()
    {
        var plan = await PlanAsync(10.00m, 0.0200m);
        var customer = await CustomerAsync(Utc(2026, 1, 1));
        var running = await VpsAsync(customer, plan, Utc(2026, 1, 1));
        var byAdmin = await VpsAsync(customer, plan, Utc(2026, 1, 1), status: VpsStatus.Suspended);
        await using (var db = Db())
        {
            await db.Vpses.Where(v => v.Id == byAdmin).ExecuteUpdateAsync(s => s.SetProperty(v => v.StatusReason, "abuse report 17"), Ct);
        }

        Clock.Set(Utc(2026, 2, 1, 0, 20));
        (await InvoiceAsync()).Issued.ShouldBe(1);
        await using (var db = Db())
        {
            var invoice = await db.Invoices.AsNoTracking().SingleAsync(Ct);
            invoice.Status.ShouldBe(InvoiceStatus.Open);
            return (customer, running, byAdmin, invoice);
        }
    }

    private async Task<DunningRunReport> RunTwiceAsync()
    {
        var first = await WithAsync<DunningJob, DunningRunReport>(j => j.RunAsync(Ct));
        var second = await WithAsync<DunningJob, DunningRunReport>(j => j.RunAsync(Ct));
        second.ShouldBe(new DunningRunReport(0, 0, 0, 0), "a second run right after the first does nothing");
        return first;
    }
}
