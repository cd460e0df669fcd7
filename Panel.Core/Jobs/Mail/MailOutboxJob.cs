using System.Net.Sockets;
using Hangfire;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using MimeKit;
using Panel.Core.Domain.Mail;
using Panel.Core.Persistence;

namespace Panel.Core.Jobs.Mail;

/// <summary>
/// Every minute (<c>Panel:Mail:SendCron</c>, <c>default</c> queue): sends the outbox's due mail through
/// the configured SMTP server with MailKit. A mail is marked sent only after the server accepted it; a
/// failure counts an attempt, keeps the error and waits longer each time (30 s doubling, at most an
/// hour), so nothing is lost while SMTP is down. Each mail is locked (<c>FOR UPDATE SKIP LOCKED</c>)
/// while it is sent, so two runs at once never send one twice.
/// </summary>
[AutomaticRetry(Attempts = 0)]
public sealed class MailOutboxJob(IDbContextFactory<PanelDbContext> dbFactory, PanelOptions options, TimeProvider clock, ILogger<MailOutboxJob> logger)
{
    /// <summary>The recurring job's id.</summary>
    public const string RecurringId = "mail-outbox";

    /// <summary>The most mails one run sends.</summary>
    public const int BatchSize = 200;

    /// <summary>The longest wait between two attempts.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromHours(1);

    /// <summary>Registers (or removes, when the cron is empty) the recurring job.</summary>
    public static void Register(IRecurringJobManager recurring, MailOptions mail)
    {
        ArgumentNullException.ThrowIfNull(recurring);
        ArgumentNullException.ThrowIfNull(mail);
        if (string.IsNullOrWhiteSpace(mail.SendCron))
        {
            recurring.RemoveIfExists(RecurringId);
            return;
        }

        recurring.AddOrUpdate<MailOutboxJob>(RecurringId, JobsServiceCollectionExtensions.DefaultQueue, j => j.RunAsync(CancellationToken.None), mail.SendCron,
            new RecurringJobOptions { TimeZone = TimeZoneInfo.Utc });
    }

    /// <summary>The wait after the <paramref name="attempts"/>-th failed attempt: 30 s, 1 min, 2 min, … at most an hour.</summary>
    public static TimeSpan Backoff(int attempts) => TimeSpan.FromSeconds(Math.Min(30 * Math.Pow(2, Math.Clamp(attempts, 1, 20) - 1), MaxBackoff.TotalSeconds));

    /// <summary>One run: sends due mail until none is left, the batch is full, or the server fails. Returns the mails sent.</summary>
    [JobDisplayName("Send mail")]
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var mail = options.Mail;
        if (string.IsNullOrWhiteSpace(mail.Host))
        {
            return 0; // no server configured: mail waits in the outbox
        }

        using var smtp = new SmtpClient { Timeout = (int)TimeSpan.FromSeconds(Math.Max(1, mail.TimeoutSeconds)).TotalMilliseconds };
        var sent = 0;
        for (var i = 0; i < BatchSize; i++)
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            var now = clock.GetUtcNow().UtcDateTime;
            var rows = await db.MailOutbox
                .FromSql($"SELECT * FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= {now} ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED")
                .ToListAsync(cancellationToken);
            if (rows.Count == 0)
            {
                break;
            }

            var row = rows[0];
            var failed = false;
            try
            {
                if (!smtp.IsConnected)
                {
                    await ConnectAsync(smtp, mail, cancellationToken);
                }

                await smtp.SendAsync(Message(row, mail), cancellationToken);
                row.SentAt = clock.GetUtcNow().UtcDateTime;
                row.LastError = null;
                sent++;
            }
            catch (Exception ex) when (ex is SmtpCommandException or SmtpProtocolException or AuthenticationException or SslHandshakeException or ServiceNotConnectedException
                                           or SocketException or IOException or TimeoutException or FormatException or ParseException
                                       || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                failed = true;
                row.Attempts++;
                row.NextAttemptAt = now + Backoff(row.Attempts);
                var error = $"{ex.GetType().Name}: {ex.Message}".ReplaceLineEndings(" ");
                row.LastError = error.Length <= 2000 ? error : error[..2000];
                logger.LogWarning("mail {Id} to {To} not sent (attempt {Attempts}, next at {Next:u}): {Error}", row.Id, row.To, row.Attempts, row.NextAttemptAt, row.LastError);
            }

            await db.SaveChangesAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);

            // A refused recipient is this mail's problem; a lost connection is everyone's: stop for now.
            if (failed && !smtp.IsConnected)
            {
                break;
            }
        }

        if (smtp.IsConnected)
        {
            await smtp.DisconnectAsync(quit: true, cancellationToken);
        }

        if (sent > 0)
        {
            logger.LogInformation("mail: {Sent} sent", sent);
        }

        return sent;
    }

    private static async Task ConnectAsync(SmtpClient smtp, MailOptions mail, CancellationToken cancellationToken)
    {
        var security = mail.Security switch
        {
            MailSecurity.None => SecureSocketOptions.None,
            MailSecurity.StartTls => SecureSocketOptions.StartTls,
            MailSecurity.Tls => SecureSocketOptions.SslOnConnect,
            _ => SecureSocketOptions.Auto,
        };
        await smtp.ConnectAsync(mail.Host ?? "", mail.Port, security, cancellationToken);
        if (!string.IsNullOrEmpty(mail.User))
        {
            await smtp.AuthenticateAsync(mail.User, mail.Password ?? "", cancellationToken);
        }
    }

    /// <summary>The MIME message of an outbox row; its Message-Id names the row, so a resend after a crash is recognizable.</summary>
    internal static MimeMessage Message(OutboxMail row, MailOptions mail)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(mail.From));
        message.To.Add(MailboxAddress.Parse(row.To));
        message.Subject = row.Subject;
        message.Date = new DateTimeOffset(DateTime.SpecifyKind(row.CreatedAt, DateTimeKind.Utc));
        message.MessageId = FormattableString.Invariant($"outbox-{row.Id}.{row.CreatedAt.Ticks}@{(string.IsNullOrWhiteSpace(mail.Host) ? "localhost" : mail.Host)}");
        message.Body = new TextPart("plain") { Text = row.Body };
        return message;
    }
}
