namespace Panel.Core.Domain.Mail;

/// <summary>
/// One mail waiting in (or sent from) the outbox. Rows are written inside the transaction of what the
/// mail is about, so a mail exists exactly when its cause does; the outbox job sends it, retrying
/// with a growing delay while SMTP is unreachable. Nothing is ever dropped.
/// </summary>
public sealed class OutboxMail
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>The recipient's address.</summary>
    public string To { get; set; } = "";

    /// <summary>The subject line.</summary>
    public string Subject { get; set; } = "";

    /// <summary>The plain-text body.</summary>
    public string Body { get; set; } = "";

    /// <summary>When it was queued (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>How many times sending failed.</summary>
    public int Attempts { get; set; }

    /// <summary>When the job tries (again) next (UTC).</summary>
    public DateTime NextAttemptAt { get; set; }

    /// <summary>When it was handed to the SMTP server (UTC); null while pending.</summary>
    public DateTime? SentAt { get; set; }

    /// <summary>Why the last attempt failed.</summary>
    public string? LastError { get; set; }
}
