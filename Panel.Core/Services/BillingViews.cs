using Panel.Core.Domain.Billing;

namespace Panel.Core.Services;

/// <summary>A customer's balance.</summary>
/// <param name="CustomerId">The customer.</param>
/// <param name="Balance">Credit available (never below 0).</param>
/// <param name="Currency">The installation's currency.</param>
/// <param name="OpenTotal">The total of open invoices.</param>
public sealed record BalanceView(Guid CustomerId, decimal Balance, string Currency, decimal OpenTotal);

/// <summary>A ledger row.</summary>
/// <param name="Id">Entry id (order).</param>
/// <param name="At">When (UTC).</param>
/// <param name="Kind">What kind.</param>
/// <param name="Amount">Signed amount.</param>
/// <param name="BalanceAfter">The balance after it.</param>
/// <param name="InvoiceId">The invoice it concerns.</param>
/// <param name="Reference">Reference text.</param>
/// <param name="ActorName">Who recorded it.</param>
public sealed record LedgerEntryView(long Id, DateTime At, LedgerEntryKind Kind, decimal Amount, decimal BalanceAfter, long? InvoiceId, string? Reference, string ActorName);

/// <summary>An invoice line.</summary>
/// <param name="Kind">What it charges for.</param>
/// <param name="VpsId">The VPS.</param>
/// <param name="Description">Text.</param>
/// <param name="Quantity">Hours, GB or 1.</param>
/// <param name="UnitPrice">Price per unit, when one applies.</param>
/// <param name="Amount">Rounded amount.</param>
public sealed record InvoiceLineView(InvoiceLineKind Kind, int? VpsId, string Description, decimal Quantity, decimal? UnitPrice, decimal Amount);

/// <summary>An invoice.</summary>
/// <param name="Id">Id.</param>
/// <param name="Number">INV-YYYY-NNNNNN.</param>
/// <param name="CustomerId">The customer.</param>
/// <param name="PeriodStart">Period start (UTC).</param>
/// <param name="PeriodEnd">Period end (UTC, exclusive).</param>
/// <param name="IssuedAt">Issued (UTC).</param>
/// <param name="DueAt">Due (UTC).</param>
/// <param name="Currency">Currency.</param>
/// <param name="Total">Total.</param>
/// <param name="Status">Open or paid.</param>
/// <param name="PaidAt">When paid.</param>
/// <param name="Lines">Lines in order.</param>
/// <param name="Net">Sum of the lines (after a discount, before tax).</param>
/// <param name="TaxRatePercent">The tax rate applied.</param>
/// <param name="TaxAmount">The tax.</param>
/// <param name="TaxLabel">The tax's name (VAT).</param>
/// <param name="TaxNote">"Reverse charge", or null.</param>
/// <param name="BillTo">The customer's billing address at issue.</param>
/// <param name="Credited">The sum of the credit notes issued against it.</param>
public sealed record InvoiceView(long Id, string Number, Guid CustomerId, DateTime PeriodStart, DateTime PeriodEnd, DateTime IssuedAt, DateTime DueAt,
    string Currency, decimal Total, InvoiceStatus Status, DateTime? PaidAt, IReadOnlyList<InvoiceLineView> Lines,
    decimal Net = 0, decimal TaxRatePercent = 0, decimal TaxAmount = 0, string TaxLabel = "VAT", string? TaxNote = null, string BillTo = "", decimal Credited = 0);

/// <summary>What recording a payment did.</summary>
/// <param name="InvoiceId">The invoice paid for.</param>
/// <param name="InvoicePaid">Whether it is now settled (the payment plus the balance covered it).</param>
/// <param name="Balance">The customer's balance afterwards.</param>
public sealed record PaymentResult(long InvoiceId, bool InvoicePaid, decimal Balance);

/// <summary>A plan's prices, as admins set them.</summary>
/// <param name="MonthlyPrice">Per period, and the cap of the hours.</param>
/// <param name="HourlyPrice">Per started hour.</param>
/// <param name="SetupFee">Once per VPS (0 for none).</param>
/// <param name="PricePerExtraGb">Per started GB beyond the allowance; null: not charged.</param>
public sealed record PlanPrices(decimal MonthlyPrice, decimal HourlyPrice, decimal SetupFee = 0, decimal? PricePerExtraGb = null);

/// <summary>What an invoice run did.</summary>
/// <param name="HoursMetered">Hours the run's metering recorded first.</param>
/// <param name="Issued">Invoices issued.</param>
/// <param name="PaidFromCredit">Of those, settled from the balance at once.</param>
public sealed record InvoiceRunReport(int HoursMetered, int Issued, int PaidFromCredit);

/// <summary>A country's tax rate.</summary>
/// <param name="Country">ISO 3166-1 alpha-2.</param>
/// <param name="RatePercent">0-100.</param>
/// <param name="Label">Printed name (VAT).</param>
/// <param name="UpdatedAt">Last set (UTC).</param>
/// <param name="UpdatedBy">By whom.</param>
public sealed record TaxRateView(string Country, decimal RatePercent, string Label, DateTime UpdatedAt, string UpdatedBy);

/// <summary>A customer's billing profile.</summary>
/// <param name="LegalName">Name on invoices (person or company); null: the email.</param>
/// <param name="Address">Postal address, lines separated by new lines.</param>
/// <param name="Country">ISO 3166-1 alpha-2, or null.</param>
/// <param name="IsBusiness">A business customer.</param>
/// <param name="VatNumber">A business's VAT number (with its country prefix).</param>
public sealed record BillingProfile(string? LegalName, string? Address, string? Country, bool IsBusiness, string? VatNumber);

/// <summary>The seller on invoices.</summary>
/// <param name="Country">ISO 3166-1 alpha-2: decides the reverse charge.</param>
/// <param name="Name">Company name.</param>
/// <param name="Address">Postal address.</param>
/// <param name="VatNumber">The seller's VAT number.</param>
public sealed record SellerDetails(string? Country, string? Name, string? Address, string? VatNumber);

/// <summary>A row of an invoice list.</summary>
/// <param name="Id">Id.</param>
/// <param name="Number">INV-YYYY-NNNNNN.</param>
/// <param name="CustomerId">The customer.</param>
/// <param name="CustomerEmail">The customer's email.</param>
/// <param name="PeriodStart">Period start (UTC).</param>
/// <param name="IssuedAt">Issued (UTC).</param>
/// <param name="DueAt">Due (UTC).</param>
/// <param name="Net">Net.</param>
/// <param name="TaxAmount">Tax.</param>
/// <param name="Total">Gross total.</param>
/// <param name="Credited">Credit notes against it.</param>
/// <param name="Currency">Currency.</param>
/// <param name="Status">Open or paid.</param>
/// <param name="PaidAt">When paid.</param>
public sealed record InvoiceRow(long Id, string Number, Guid CustomerId, string CustomerEmail, DateTime PeriodStart, DateTime IssuedAt, DateTime DueAt,
    decimal Net, decimal TaxAmount, decimal Total, decimal Credited, string Currency, InvoiceStatus Status, DateTime? PaidAt);

/// <summary>What an invoice list shows: one page of a filtered list, newest first.</summary>
/// <param name="CustomerId">One customer (admins); customers always see their own.</param>
/// <param name="Status">Only open or only paid ones.</param>
/// <param name="Search">Part of the number or of the customer's email (admins).</param>
/// <param name="Skip">Rows to skip.</param>
/// <param name="Take">Rows to return (1-200).</param>
public sealed record InvoiceQuery(Guid? CustomerId = null, InvoiceStatus? Status = null, string? Search = null, int Skip = 0, int Take = 25);

/// <summary>A credit note.</summary>
/// <param name="Id">Id.</param>
/// <param name="Number">CN-YYYY-NNNNNN.</param>
/// <param name="InvoiceId">The invoice it corrects.</param>
/// <param name="InvoiceNumber">Its number.</param>
/// <param name="CustomerId">The customer.</param>
/// <param name="IssuedAt">When (UTC).</param>
/// <param name="Amount">Amount credited.</param>
/// <param name="Reason">Why.</param>
/// <param name="ActorName">Who issued it.</param>
public sealed record CreditNoteView(long Id, string Number, long InvoiceId, string InvoiceNumber, Guid CustomerId, DateTime IssuedAt, decimal Amount, string Reason, string ActorName);

/// <summary>One VPS's usage in the current billing period.</summary>
/// <param name="VpsId">The VPS.</param>
/// <param name="Hostname">Its host name.</param>
/// <param name="Hours">Billable hours metered so far.</param>
/// <param name="Cost">What they cost so far (capped at the monthly price; rounded as the invoice line will be).</param>
/// <param name="Cap">The monthly price that caps it.</param>
/// <param name="TrafficBytes">Traffic so far (bytes both ways).</param>
/// <param name="AllowanceBytes">The traffic allowance of its plan (null: unmetered).</param>
/// <param name="TrafficCost">What the traffic beyond the allowance costs so far (rounded as its invoice line will be).</param>
public sealed record VpsUsageView(int VpsId, string Hostname, int Hours, decimal Cost, decimal Cap, long TrafficBytes, long? AllowanceBytes, decimal TrafficCost);

/// <summary>A customer's usage in the running billing period.</summary>
/// <param name="PeriodStart">Start (UTC).</param>
/// <param name="PeriodEnd">End (UTC, exclusive): the invoice comes then.</param>
/// <param name="Currency">Currency.</param>
/// <param name="Vpses">Per VPS.</param>
/// <param name="Total">The sum of hours and traffic (before tax).</param>
public sealed record UsageView(DateTime PeriodStart, DateTime PeriodEnd, string Currency, IReadOnlyList<VpsUsageView> Vpses, decimal Total);

/// <summary>One month of revenue (by the month invoices were issued in).</summary>
/// <param name="Month">The month's first day (UTC).</param>
/// <param name="Invoices">Invoices issued.</param>
/// <param name="Invoiced">Their gross total.</param>
/// <param name="Paid">Of it, paid.</param>
/// <param name="Open">Of it, open.</param>
/// <param name="Credited">Credit notes issued in the month.</param>
public sealed record RevenueMonth(DateTime Month, int Invoices, decimal Invoiced, decimal Paid, decimal Open, decimal Credited);

/// <summary>A coupon as admins see it.</summary>
/// <param name="Id">Id.</param>
/// <param name="Code">The code.</param>
/// <param name="Kind">Percent or fixed.</param>
/// <param name="Value">Percent or amount.</param>
/// <param name="ValidFrom">From (UTC).</param>
/// <param name="ValidUntil">Until (UTC, exclusive).</param>
/// <param name="MaxRedemptions">Limit.</param>
/// <param name="Redemptions">So far.</param>
public sealed record CouponView(int Id, string Code, CouponKind Kind, decimal Value, DateTime ValidFrom, DateTime? ValidUntil, int? MaxRedemptions, int Redemptions);

/// <summary>A new coupon.</summary>
/// <param name="Code">3-32 letters, digits, dashes (upper-cased).</param>
/// <param name="Kind">Percent or fixed amount.</param>
/// <param name="Value">Percent (0.01-100) or amount (2 decimals).</param>
/// <param name="ValidFrom">From (UTC); null: now.</param>
/// <param name="ValidUntil">Until (UTC, exclusive); null: no end.</param>
/// <param name="MaxRedemptions">How many customers may redeem it; null: no limit.</param>
public sealed record CouponDraft(string Code, CouponKind Kind, decimal Value, DateTime? ValidFrom = null, DateTime? ValidUntil = null, int? MaxRedemptions = null);

/// <summary>A customer's redeemed coupon.</summary>
/// <param name="Code">The code.</param>
/// <param name="Kind">Percent or fixed.</param>
/// <param name="Value">Percent or amount.</param>
/// <param name="RedeemedAt">When.</param>
/// <param name="InvoiceId">The invoice that took it; null while it waits for the next invoice.</param>
public sealed record RedemptionView(string Code, CouponKind Kind, decimal Value, DateTime RedeemedAt, long? InvoiceId);
