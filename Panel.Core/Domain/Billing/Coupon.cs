namespace Panel.Core.Domain.Billing;

/// <summary>How a coupon takes money off.</summary>
public enum CouponKind
{
    /// <summary>A percentage of the invoice's net amount (0-100).</summary>
    Percent,

    /// <summary>A fixed amount (at most the invoice's net amount).</summary>
    FixedAmount,
}

/// <summary>
/// A discount code admins create. A customer redeems it once; the next invoice issued to them gets a
/// discount line (before tax). Redemptions are counted under the coupon's row lock, so
/// <see cref="MaxRedemptions"/> holds under concurrency.
/// </summary>
public sealed class Coupon
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>What customers type: 3-32 capital letters, digits and dashes; unique.</summary>
    public string Code { get; set; } = "";

    /// <summary>Percent or fixed amount.</summary>
    public CouponKind Kind { get; set; }

    /// <summary>Percent (0.01-100, 2 decimals) or an amount (2 decimals).</summary>
    public decimal Value { get; set; }

    /// <summary>Redeemable from (UTC, inclusive).</summary>
    public DateTime ValidFrom { get; set; }

    /// <summary>Redeemable until (UTC, exclusive); null: no end.</summary>
    public DateTime? ValidUntil { get; set; }

    /// <summary>How many customers may redeem it; null: no limit.</summary>
    public int? MaxRedemptions { get; set; }

    /// <summary>Redemptions so far.</summary>
    public int Redemptions { get; set; }

    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>One customer's redemption of a coupon: waiting until an invoice takes it (<see cref="InvoiceId"/>).</summary>
public sealed class CouponRedemption
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>The coupon.</summary>
    public int CouponId { get; set; }

    /// <summary>The customer; a customer redeems a coupon once.</summary>
    public Guid CustomerId { get; set; }

    /// <summary>When (UTC).</summary>
    public DateTime RedeemedAt { get; set; }

    /// <summary>The invoice that got the discount; null while it waits for the next invoice.</summary>
    public long? InvoiceId { get; set; }
}
