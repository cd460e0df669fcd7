namespace Panel.Core.Domain.Billing;

/// <summary>
/// The tax rate of one country (ISO 3166-1 alpha-2), as admins set it. Invoices to customers in that
/// country (or, when a customer has not said where they are, in the seller's) are taxed at it, unless
/// the reverse charge applies (see <see cref="BillingRules.TaxFor"/>).
/// </summary>
public sealed class TaxRate
{
    /// <summary>Two capital letters (<c>DE</c>, <c>FR</c>); the key.</summary>
    public string CountryCode { get; set; } = "";

    /// <summary>Percent, 0-100, up to 2 decimals (<c>19.00</c>).</summary>
    public decimal RatePercent { get; set; }

    /// <summary>A label printed on invoices (<c>VAT</c>, <c>USt.</c>).</summary>
    public string Name { get; set; } = "VAT";

    /// <summary>When it was last set (UTC).</summary>
    public DateTime UpdatedAt { get; set; }

    /// <summary>Who set it.</summary>
    public string UpdatedBy { get; set; } = "";
}

/// <summary>How an invoice was taxed: its rate, its label and the note the invoice must carry.</summary>
/// <param name="RatePercent">The rate applied (0 for the reverse charge or an untaxed country).</param>
/// <param name="Label">The tax's name (<c>VAT</c>).</param>
/// <param name="Note">Printed on the invoice: <c>Reverse charge</c>, or null.</param>
public sealed record TaxTreatment(decimal RatePercent, string Label, string? Note);
