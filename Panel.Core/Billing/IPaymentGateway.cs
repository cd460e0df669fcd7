namespace Panel.Core.Billing;

/// <summary>
/// A payment provider that charges a customer's saved payment method (card, SEPA mandate). The panel
/// ships the interface and the charge flow around it (<see cref="Services.PaymentService"/>); a
/// provider's adapter (Stripe, Mollie, ...) implements it and is registered as the one
/// <c>IPaymentGateway</c> service. Every charge carries an <see cref="GatewayCharge.IdempotencyKey"/>
/// the provider must honour: the panel repeats a charge whose outcome it never learned (a timeout, a
/// crash) with the same key, and the provider answers with the first outcome instead of charging twice.
/// </summary>
public interface IPaymentGateway
{
    /// <summary>The provider's name, shown to customers and kept with each attempt (e.g. <c>stripe</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Charges the customer. Returns the outcome the provider decided; throws (any exception, a
    /// timeout) when the outcome is unknown - the attempt then stays pending and is repeated with the
    /// same key.
    /// </summary>
    Task<GatewayChargeResult> ChargeAsync(GatewayCharge charge, CancellationToken cancellationToken);
}

/// <summary>One charge request.</summary>
/// <param name="IdempotencyKey">Unique per attempt; a repeat with the same key must not charge again.</param>
/// <param name="CustomerId">The customer (the adapter maps it to the provider's customer and saved method).</param>
/// <param name="Amount">The amount, 2 decimals, above 0.</param>
/// <param name="Currency">ISO 4217 code of the installation's currency.</param>
/// <param name="Description">What it is for (the invoice number).</param>
public sealed record GatewayCharge(string IdempotencyKey, Guid CustomerId, decimal Amount, string Currency, string Description);

/// <summary>What the provider decided.</summary>
/// <param name="Succeeded">True when the money was taken.</param>
/// <param name="Reference">The provider's id of the charge (kept with the payment).</param>
/// <param name="Message">Why it was declined, in words a customer can read.</param>
public sealed record GatewayChargeResult(bool Succeeded, string? Reference, string? Message);
