namespace Panel.Core.Domain.Billing;

/// <summary>Where a gateway charge stands.</summary>
public enum PaymentAttemptStatus
{
    /// <summary>Sent (or about to be) and its outcome not known yet; repeated with the same key until it is.</summary>
    Pending,

    /// <summary>The money was taken and booked as a payment.</summary>
    Succeeded,

    /// <summary>The provider declined it; nothing was taken.</summary>
    Declined,
}

/// <summary>
/// One charge of an invoice through the payment gateway. The row is written (pending, with its
/// idempotency key) before the provider is called, so a crash or timeout never loses a charge that may
/// have happened: the retry job repeats it with the same key. At most one attempt per invoice is
/// pending at a time (a unique partial index).
/// </summary>
public sealed class PaymentAttempt
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>The customer.</summary>
    public Guid CustomerId { get; set; }

    /// <summary>The invoice it pays.</summary>
    public long InvoiceId { get; set; }

    /// <summary>The gateway's name.</summary>
    public string Gateway { get; set; } = "";

    /// <summary>The key sent with every try of this charge (unique).</summary>
    public string IdempotencyKey { get; set; } = "";

    /// <summary>The amount charged (2 decimals).</summary>
    public decimal Amount { get; set; }

    /// <summary>The currency.</summary>
    public string Currency { get; set; } = "";

    /// <summary>Where it stands.</summary>
    public PaymentAttemptStatus Status { get; set; }

    /// <summary>The provider's reference of the charge.</summary>
    public string? Reference { get; set; }

    /// <summary>The provider's reason for a decline, or the last error of a pending try.</summary>
    public string? Message { get; set; }

    /// <summary>Tries so far.</summary>
    public int Tries { get; set; }

    /// <summary>Who asked (email or <c>system</c>).</summary>
    public string ActorName { get; set; } = "";

    /// <summary>When it was asked for (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>When its outcome was known (UTC).</summary>
    public DateTime? CompletedAt { get; set; }
}
