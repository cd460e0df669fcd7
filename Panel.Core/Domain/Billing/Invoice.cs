namespace Panel.Core.Domain.Billing;

/// <summary>Whether an invoice is paid.</summary>
public enum InvoiceStatus
{
    /// <summary>Issued, waiting for payment.</summary>
    Open,

    /// <summary>Settled (from credit or by a recorded payment).</summary>
    Paid,
}

/// <summary>What an invoice line charges for.</summary>
public enum InvoiceLineKind
{
    /// <summary>A VPS's hours in the period (capped at the monthly price).</summary>
    Hours,

    /// <summary>A VPS's one-time setup fee.</summary>
    SetupFee,

    /// <summary>Traffic beyond the allowance.</summary>
    Bandwidth,

    /// <summary>A redeemed coupon's discount (a negative amount, before tax).</summary>
    Discount,
}

/// <summary>
/// A customer's invoice for one billing period. Immutable once issued: only <see cref="Status"/> and
/// <see cref="PaidAt"/> change (a database trigger refuses anything else); corrections are credit notes.
/// </summary>
public sealed class Invoice
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary><c>INV-YYYY-NNNNNN</c>, gap-free per year (see <see cref="BillingRules"/>).</summary>
    public string Number { get; set; } = "";

    /// <summary>The customer.</summary>
    public Guid CustomerId { get; set; }

    /// <summary>The period's start (UTC, inclusive); unique per customer.</summary>
    public DateTime PeriodStart { get; set; }

    /// <summary>The period's end (UTC, exclusive).</summary>
    public DateTime PeriodEnd { get; set; }

    /// <summary>When it was issued (UTC).</summary>
    public DateTime IssuedAt { get; set; }

    /// <summary>When payment is due (UTC).</summary>
    public DateTime DueAt { get; set; }

    /// <summary>ISO 4217 code of the installation's currency at issue.</summary>
    public string Currency { get; set; } = "";

    /// <summary>The sum of the lines' amounts (after a discount, before tax).</summary>
    public decimal Net { get; set; }

    /// <summary>The tax rate applied, in percent (0 under the reverse charge).</summary>
    public decimal TaxRatePercent { get; set; }

    /// <summary>The tax: <see cref="Net"/> × rate, rounded once, half away from zero.</summary>
    public decimal TaxAmount { get; set; }

    /// <summary>The tax's label (<c>VAT</c>).</summary>
    public string TaxLabel { get; set; } = "VAT";

    /// <summary>A note the invoice carries (<c>Reverse charge</c>), or null.</summary>
    public string? TaxNote { get; set; }

    /// <summary>The customer's billing address as it was at issue (name, address, country, VAT number), one line each.</summary>
    public string BillTo { get; set; } = "";

    /// <summary>The customer's country at issue (ISO 3166 alpha-2), if known.</summary>
    public string? CustomerCountry { get; set; }

    /// <summary>The customer's VAT number at issue, if a business gave one.</summary>
    public string? CustomerVatNumber { get; set; }

    /// <summary>The gross amount due: <see cref="Net"/> + <see cref="TaxAmount"/>.</summary>
    public decimal Total { get; set; }

    /// <summary>Open or paid.</summary>
    public InvoiceStatus Status { get; set; }

    /// <summary>When it was settled (UTC).</summary>
    public DateTime? PaidAt { get; set; }

    /// <summary>The lines.</summary>
    public List<InvoiceLine> Lines { get; set; } = [];
}

/// <summary>One line of an invoice; its amount is the only rounded figure (see <see cref="BillingRules.RoundLine"/>).</summary>
public sealed class InvoiceLine
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>The invoice.</summary>
    public long InvoiceId { get; set; }

    /// <summary>Position on the invoice.</summary>
    public int Position { get; set; }

    /// <summary>What it charges for.</summary>
    public InvoiceLineKind Kind { get; set; }

    /// <summary>The VPS it concerns.</summary>
    public int? VpsId { get; set; }

    /// <summary>Readable text: host name, plan(s), hours, cap.</summary>
    public string Description { get; set; } = "";

    /// <summary>Hours, GB or 1.</summary>
    public decimal Quantity { get; set; }

    /// <summary>Price per unit, when one price applies (null for hours on several plans).</summary>
    public decimal? UnitPrice { get; set; }

    /// <summary>The amount, rounded once to 2 decimals.</summary>
    public decimal Amount { get; set; }
}

/// <summary>The installation's invoice counter for one year: locked <c>FOR UPDATE</c> by the issuing transaction.</summary>
public sealed class InvoiceCounter
{
    /// <summary>The year of issue.</summary>
    public int Year { get; set; }

    /// <summary>The last number handed out that year.</summary>
    public long LastNumber { get; set; }
}
