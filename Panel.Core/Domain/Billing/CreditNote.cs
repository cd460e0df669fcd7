namespace Panel.Core.Domain.Billing;

/// <summary>
/// A correction of an issued invoice in the customer's favour: the invoice stays as issued, the credit
/// note credits the customer's ledger. Numbers <c>CN-YYYY-NNNNNN</c>, gap-free per year, from their own
/// counter. Never changed or deleted (a database trigger refuses it).
/// </summary>
public sealed class CreditNote
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary><c>CN-YYYY-NNNNNN</c>.</summary>
    public string Number { get; set; } = "";

    /// <summary>The invoice it corrects.</summary>
    public long InvoiceId { get; set; }

    /// <summary>The invoice's customer.</summary>
    public Guid CustomerId { get; set; }

    /// <summary>When (UTC).</summary>
    public DateTime IssuedAt { get; set; }

    /// <summary>The amount credited (2 decimals, at most what the invoice has left).</summary>
    public decimal Amount { get; set; }

    /// <summary>Why.</summary>
    public string Reason { get; set; } = "";

    /// <summary>Who issued it.</summary>
    public string ActorName { get; set; } = "";
}

/// <summary>The credit note counter of one year (locked <c>FOR UPDATE</c> by the issuing transaction).</summary>
public sealed class CreditNoteCounter
{
    /// <summary>The year of issue.</summary>
    public int Year { get; set; }

    /// <summary>The last number handed out that year.</summary>
    public long LastNumber { get; set; }
}
