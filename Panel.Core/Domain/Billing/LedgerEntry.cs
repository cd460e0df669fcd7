namespace Panel.Core.Domain.Billing;

/// <summary>What moved money in or out of a customer's balance.</summary>
public enum LedgerEntryKind
{
    /// <summary>Credit added by an admin (prepayment, goodwill): +.</summary>
    CreditTopUp,

    /// <summary>Money received for an invoice, recorded by an admin or a gateway: +.</summary>
    Payment,

    /// <summary>An invoice settled from the balance: −.</summary>
    InvoiceCharge,

    /// <summary>Money paid back to the customer: −.</summary>
    Refund,

    /// <summary>A correction of an issued invoice in the customer's favour: +.</summary>
    CreditNote,
}

/// <summary>
/// One row of a customer's append-only ledger: rows are only ever inserted (the service never updates
/// or deletes them, and a database trigger refuses it). The balance is the customer's credit: payments
/// and top-ups add to it, settling an invoice takes the invoice's total from it, so it never goes below 0.
/// </summary>
public sealed class LedgerEntry
{
    /// <summary>Database identity (also the order of entries).</summary>
    public long Id { get; set; }

    /// <summary>The customer.</summary>
    public Guid CustomerId { get; set; }

    /// <summary>When (UTC).</summary>
    public DateTime At { get; set; }

    /// <summary>What kind of movement.</summary>
    public LedgerEntryKind Kind { get; set; }

    /// <summary>Signed amount (2 decimals): + credits the customer, − debits.</summary>
    public decimal Amount { get; set; }

    /// <summary>The balance after this entry.</summary>
    public decimal BalanceAfter { get; set; }

    /// <summary>The invoice it concerns, if any.</summary>
    public long? InvoiceId { get; set; }

    /// <summary>A reference: bank transfer id, reason.</summary>
    public string? Reference { get; set; }

    /// <summary>Who recorded it (email or <c>system</c>).</summary>
    public string ActorName { get; set; } = "";
}
