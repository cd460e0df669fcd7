using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Panel.Core;
using Panel.Core.Jobs.Mail;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Billing;

/// <summary>The mail outbox: queued in the caller's transaction, sent through a real SMTP listener, kept and retried while SMTP is down.</summary>
public sealed class MailOutboxTests(BillingFixture fixture) : BillingTest(fixture)
{
    [Fact]
    public async Task Queued_mail_is_sent_through_smtp_once()
    {
        Clock.Set(Utc(2026, 6, 1, 12));
        await using var smtp = new SmtpListener();
        await EnqueueAsync("alice@example.com", "Invoice INV-2026-000001", "Hello Alice,\r\n.line with a leading dot\r\nbye");

        (await Job(smtp.Port).RunAsync(Ct)).ShouldBe(1);
        (await Job(smtp.Port).RunAsync(Ct)).ShouldBe(0); // sent mail is not sent again

        smtp.Messages.Count.ShouldBe(1);
        var (from, to, data) = smtp.Messages.Single();
        from.ShouldBe("billing@panel.test");
        to.ShouldBe(["alice@example.com"]);
        data.ShouldContain("Subject: Invoice INV-2026-000001");
        data.ShouldContain(".line with a leading dot");
        await using var db = Db();
        var row = await db.MailOutbox.SingleAsync(Ct);
        row.SentAt.ShouldBe(Clock.UtcNow);
        row.Attempts.ShouldBe(0);
    }

    [Fact]
    public async Task While_smtp_is_down_mail_waits_with_a_growing_delay_and_goes_out_once_it_is_up()
    {
        Clock.Set(Utc(2026, 6, 1, 12));
        var port = SmtpListener.FreePort();
        await EnqueueAsync("bob@example.com", "First", "one");
        await EnqueueAsync("carol@example.com", "Second", "two");
        var start = Clock.UtcNow;

        // Down: nothing is sent, nothing is lost, the first failure waits 30 s (the run stops at a dead server).
        (await Job(port).RunAsync(Ct)).ShouldBe(0);
        await using (var db = Db())
        {
            var rows = await db.MailOutbox.AsNoTracking().OrderBy(m => m.Id).ToListAsync(Ct);
            rows.Count.ShouldBe(2);
            rows.ShouldAllBe(m => m.SentAt == null);
            rows[0].Attempts.ShouldBe(1);
            rows[0].NextAttemptAt.ShouldBe(start.AddSeconds(30));
            rows[0].LastError.ShouldNotBeNullOrWhiteSpace();
        }

        // The first is not due yet (the second, still due, fails too). Due again and still down: the delay doubles.
        (await Job(port).RunAsync(Ct)).ShouldBe(0);
        Clock.Set(start.AddSeconds(31));
        (await Job(port).RunAsync(Ct)).ShouldBe(0);
        await using (var db = Db())
        {
            var first = await db.MailOutbox.AsNoTracking().OrderBy(m => m.Id).FirstAsync(Ct);
            first.Attempts.ShouldBe(2);
            first.NextAttemptAt.ShouldBe(start.AddSeconds(31 + 60));
        }

        MailOutboxJob.Backoff(1).ShouldBe(TimeSpan.FromSeconds(30));
        MailOutboxJob.Backoff(30).ShouldBe(MailOutboxJob.MaxBackoff);

        // Up on the same port: both go out, once.
        await using var smtp = new SmtpListener(port);
        Clock.Set(start.AddMinutes(5));
        (await Job(port).RunAsync(Ct)).ShouldBe(2);
        (await Job(port).RunAsync(Ct)).ShouldBe(0);
        smtp.Messages.Select(m => m.To.Single()).Order().ShouldBe(["bob@example.com", "carol@example.com"]);
        await using (var db = Db())
        {
            (await db.MailOutbox.CountAsync(m => m.SentAt == null, Ct)).ShouldBe(0);
        }
    }

    [Fact]
    public async Task Mail_queued_in_a_transaction_that_rolls_back_is_gone_and_a_bad_address_is_refused()
    {
        var outbox = Fixture.Services.GetRequiredService<MailOutbox>();
        await using (var db = Db())
        {
            await using var tx = await db.Database.BeginTransactionAsync(Ct);
            outbox.Enqueue(db, "dave@example.com", "never", "rolled back");
            await db.SaveChangesAsync(Ct);
            await tx.RollbackAsync(Ct);
        }

        await using (var db = Db())
        {
            (await db.MailOutbox.CountAsync(Ct)).ShouldBe(0);
            Should.Throw<PanelRefusedException>(() => outbox.Enqueue(db, "not an address", "x", "y")).Field.ShouldBe("To");
            Should.Throw<PanelRefusedException>(() => outbox.Enqueue(db, "dave@example.com", "  ", "y")).Field.ShouldBe("Subject");
        }
    }

    private async Task EnqueueAsync(string to, string subject, string body)
    {
        await using var db = Db();
        Fixture.Services.GetRequiredService<MailOutbox>().Enqueue(db, to, subject, body);
        await db.SaveChangesAsync(Ct);
    }

    private MailOutboxJob Job(int port)
        => ActivatorUtilities.CreateInstance<MailOutboxJob>(Fixture.Services, new PanelOptions
        {
            Mail = { Host = "127.0.0.1", Port = port, Security = MailSecurity.None, From = "Panel Billing <billing@panel.test>", TimeoutSeconds = 5 },
        });
}
