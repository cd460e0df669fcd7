namespace Panel.Core.Domain.Billing;

/// <summary>
/// A customer's billing facts. Its row is also the lock that serializes everything that touches the
/// customer's ledger or invoices (<c>SELECT … FOR UPDATE</c>): balances never race.
/// </summary>
public sealed class BillingAccount
{
    /// <summary>The customer (a user id).</summary>
    public Guid CustomerId { get; set; }

    /// <summary>Day of the month (1-28) on which the customer's billing periods start.</summary>
    public int BillingDay { get; set; }

    /// <summary>When the account was opened (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Billing profile: the name invoices are addressed to (person or company).</summary>
    public string? LegalName { get; set; }

    /// <summary>Billing profile: the postal address (lines separated by new lines).</summary>
    public string? Address { get; set; }

    /// <summary>Billing profile: the country (ISO 3166-1 alpha-2); null: not given (taxed as the seller's country).</summary>
    public string? Country { get; set; }

    /// <summary>Billing profile: whether the customer is a business.</summary>
    public bool IsBusiness { get; set; }

    /// <summary>Billing profile: a business's VAT number (<c>DE123456789</c>), if it has one.</summary>
    public string? VatNumber { get; set; }
}
