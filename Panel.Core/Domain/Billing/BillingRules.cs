namespace Panel.Core.Domain.Billing;

/// <summary>
/// The money rules, in one place, so that invoices, pages and tests agree.
/// <list type="bullet">
/// <item><b>Money</b> is <see cref="decimal"/>: prices are <c>numeric(18,4)</c>, amounts on invoices and
/// in the ledger <c>numeric(18,2)</c>, in the installation's one currency.</item>
/// <item><b>Rounding happens once</b>, at the invoice line: a line's amount is computed exactly
/// (hours × hourly price, capped; GB × price) and rounded to 2 decimals, half away from zero
/// (<see cref="MidpointRounding.AwayFromZero"/>: 0.125 → 0.13, -0.125 → -0.13). An invoice's total is the
/// sum of its rounded lines; nothing else is rounded.</item>
/// <item><b>Billable hours</b>: a VPS is billed for every started UTC hour between its creation and its
/// deletion (the UTC hour <c>[h, h+1h)</c> counts when it overlaps the VPS's life
/// <c>[created_at, deleted_at)</c>: created at 10:59 and deleted at 11:01 is 2 hours), whatever its power state - stopped and suspended VPSes hold their disk,
/// address and capacity, so they are billed too. An order whose provisioning failed (no node, not
/// deleted) is not billable. An hour is charged at the plan the VPS has when the hour is metered
/// (minutes after it ends), so a plan change takes effect from the hour in which it happened.</item>
/// <item><b>The cap</b>: per VPS and billing period, the hours cost Σ (hours on a plan × its hourly
/// price), but never more than the highest monthly price among the plans it had in that period.</item>
/// <item><b>Setup fee</b>: the fee of the plan of a VPS's first billable hour, on the invoice of the
/// period holding that hour.</item>
/// <item><b>Traffic</b>: per VPS and period, each started GB (2^30 bytes) beyond the allowance of the plan
/// of its last hour in the period costs that plan's price per extra GB (not prorated). A throttling plan
/// (<see cref="Compute.Plan.ThrottleMbit"/>) never charges for traffic: once the allowance is used up the
/// VPS's port runs at the throttle speed until the period ends instead.</item>
/// <item><b>Billing periods</b> run from the customer's billing day (the day of the month they signed
/// up, 29-31 become 28) at 00:00 UTC to the same day of the next month; the invoice for a period is
/// issued once it has ended.</item>
/// <item><b>Tax</b> is computed once per invoice on its net amount (the sum of its rounded lines, a
/// coupon's discount included): net × rate, rounded once to 2 decimals half away from zero; the total is
/// net + tax. The rate is the one admins set for the customer's country (the seller's country when the
/// customer gave none; 0 where no rate is set). Reverse charge: a business customer with a VAT number in
/// another country than the seller's (<c>billing.seller_country</c>) pays no tax and the invoice says
/// "Reverse charge".</item>
/// <item><b>Coupons</b>: a redeemed coupon takes its percentage of the net (rounded once, like a line)
/// or its fixed amount (at most the net) off the next invoice issued, as a negative line before tax.</item>
/// <item><b>Credit notes</b> (<c>CN-YYYY-NNNNNN</c>, gap-free per year, own counter) credit the
/// customer's ledger; their sum on an invoice never exceeds its total. The invoice stays as issued.</item>
/// <item><b>Invoice numbers</b> are <c>INV-YYYY-NNNNNN</c>, gap-free per year of issue for the whole
/// installation: one counter row per year, locked in the transaction that issues the invoice.</item>
/// </list>
/// </summary>
public static class BillingRules
{
    /// <summary>Bytes in the GB that traffic allowances and prices use.</summary>
    public const long BytesPerGb = 1L << 30;

    /// <summary>The latest billing day: later sign-up days use it, so every month has the day.</summary>
    public const int LastBillingDay = 28;

    /// <summary>Decimals of an amount on an invoice or in the ledger.</summary>
    public const int AmountDecimals = 2;

    /// <summary>Decimals of a price.</summary>
    public const int PriceDecimals = 4;

    /// <summary>The largest single amount or price the panel accepts.</summary>
    public const decimal MaxAmount = 1_000_000m;

    /// <summary>Days from issue to due date.</summary>
    public const int PaymentTermDays = 14;

    /// <summary>The one rounding of money: to 2 decimals, half away from zero. Used for invoice lines only.</summary>
    public static decimal RoundLine(decimal exact) => Math.Round(exact, AmountDecimals, MidpointRounding.AwayFromZero);

    /// <summary>The billing day for a customer who signed up at <paramref name="signedUpAt"/>.</summary>
    public static int BillingDayFor(DateTime signedUpAt) => Math.Min(signedUpAt.Day, LastBillingDay);

    /// <summary>The billing period (start inclusive, end exclusive, UTC) that holds <paramref name="at"/>.</summary>
    public static (DateTime Start, DateTime End) PeriodContaining(int billingDay, DateTime at)
    {
        if (billingDay is < 1 or > LastBillingDay)
        {
            throw new ArgumentOutOfRangeException(nameof(billingDay), billingDay, "A billing day is 1-28.");
        }

        var start = new DateTime(at.Year, at.Month, billingDay, 0, 0, 0, DateTimeKind.Utc);
        if (at < start)
        {
            start = start.AddMonths(-1);
        }

        return (start, start.AddMonths(1));
    }

    /// <summary>The cost of a VPS's hours in one period, before rounding: Σ hours × hourly price, capped at the highest monthly price.</summary>
    public static decimal HoursCost(IEnumerable<(int Hours, decimal HourlyPrice, decimal MonthlyPrice)> segments)
    {
        ArgumentNullException.ThrowIfNull(segments);
        decimal sum = 0, cap = 0;
        foreach (var (hours, hourly, monthly) in segments)
        {
            sum += hours * hourly;
            cap = Math.Max(cap, monthly);
        }

        return Math.Min(sum, cap);
    }

    /// <summary>Started GB beyond the allowance (0 when within it or unmetered).</summary>
    public static long ExtraGb(long usedBytes, long? allowanceBytes)
        => allowanceBytes is { } allowance && usedBytes > allowance ? (usedBytes - allowance + BytesPerGb - 1) / BytesPerGb : 0;

    /// <summary>The price of each started GB beyond <paramref name="plan"/>'s allowance, or null when it charges none (no price, 0, or a throttling plan).</summary>
    public static decimal? ExtraGbPrice(Compute.Plan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.ThrottleMbit is null && plan.PricePerExtraGb is { } perGb && perGb > 0 ? perGb : null;
    }

    /// <summary>The note on an invoice under the reverse charge.</summary>
    public const string ReverseChargeNote = "Reverse charge";

    /// <summary>
    /// How a customer's invoice is taxed. <paramref name="rates"/> maps countries to (percent, label);
    /// the customer's country applies, else the seller's; a business with a VAT number in another country
    /// than the seller's gets the reverse charge (0 %, its note).
    /// </summary>
    public static TaxTreatment TaxFor(string? sellerCountry, string? customerCountry, bool isBusiness, string? vatNumber, IReadOnlyDictionary<string, (decimal Percent, string Label)> rates)
    {
        ArgumentNullException.ThrowIfNull(rates);
        var country = customerCountry ?? sellerCountry;
        if (isBusiness && !string.IsNullOrEmpty(vatNumber) && customerCountry is not null && sellerCountry is not null
            && !string.Equals(customerCountry, sellerCountry, StringComparison.Ordinal))
        {
            var label = rates.TryGetValue(customerCountry, out var r) ? r.Label : "VAT";
            return new TaxTreatment(0m, label, ReverseChargeNote);
        }

        return country is not null && rates.TryGetValue(country, out var rate) ? new TaxTreatment(rate.Percent, rate.Label, null) : new TaxTreatment(0m, "VAT", null);
    }

    /// <summary>The tax on a net amount: net × percent / 100, rounded once to 2 decimals half away from zero.</summary>
    public static decimal Tax(decimal net, decimal ratePercent) => RoundLine(net * ratePercent / 100m);

    /// <summary>A coupon's discount on a net amount (positive; at most the net, never below 0).</summary>
    public static decimal Discount(CouponKind kind, decimal value, decimal net)
    {
        if (net <= 0)
        {
            return 0m;
        }

        var off = kind == CouponKind.Percent ? RoundLine(net * value / 100m) : value;
        return Math.Min(off, net);
    }

    /// <summary>A credit note number: <c>CN-2026-000001</c>.</summary>
    public static string CreditNoteNumber(int year, long sequence) => FormattableString.Invariant($"CN-{year:D4}-{sequence:D6}");

    /// <summary>An invoice number: <c>INV-2026-000001</c>.</summary>
    public static string InvoiceNumber(int year, long sequence) => FormattableString.Invariant($"INV-{year:D4}-{sequence:D6}");
}
