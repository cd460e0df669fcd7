using MimeKit;
using Panel.Core.Domain.Mail;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>
/// Queues mail in the <c>mail_outbox</c> table on the caller's context, so it is saved in the caller's
/// transaction: a mail exists exactly when what it reports was committed (a rollback takes it back).
/// <see cref="Jobs.Mail.MailOutboxJob"/> sends it.
/// </summary>
public sealed class MailOutbox(TimeProvider clock)
{
    /// <summary>The longest subject kept.</summary>
    public const int MaxSubject = 300;

    /// <summary>Adds one mail to <paramref name="db"/> (saved with the caller's next <c>SaveChanges</c>).</summary>
    /// <exception cref="PanelRefusedException">Not a mail address, or an empty subject.</exception>
    public OutboxMail Enqueue(PanelDbContext db, string to, string subject, string body)
    {
        ArgumentNullException.ThrowIfNull(db);
        var address = (to ?? "").Trim();
        if (address.Length is 0 or > 320 || !MailboxAddress.TryParse(address, out _))
        {
            throw new PanelRefusedException($"'{address}' is not a mail address.", "To");
        }

        var line = (subject ?? "").ReplaceLineEndings(" ").Trim();
        if (line.Length == 0)
        {
            throw new PanelRefusedException("A mail needs a subject.", "Subject");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var mail = new OutboxMail
        {
            To = address, Subject = line.Length <= MaxSubject ? line : line[..MaxSubject], Body = body ?? "", CreatedAt = now, NextAttemptAt = now,
        };
        db.MailOutbox.Add(mail);
        return mail;
    }
}
