using System.Globalization;
using Panel.Core.Domain.Billing;

namespace Panel.Core.Services;

/// <summary>Checks of money that people type or send: amounts (2 decimals) and prices (4 decimals).</summary>
public static class Money
{
    /// <summary>
    /// Refuses an amount that is not positive, has more than 2 decimals or exceeds
    /// <see cref="BillingRules.MaxAmount"/>: amounts are never rounded silently.
    /// </summary>
    /// <exception cref="PanelRefusedException">The amount is not acceptable.</exception>
    public static decimal CheckAmount(decimal amount, string field = "Amount")
    {
        if (amount <= 0)
        {
            throw new PanelRefusedException("The amount must be greater than 0.", field);
        }

        if (amount != Math.Round(amount, BillingRules.AmountDecimals))
        {
            throw new PanelRefusedException("An amount has at most 2 decimals.", field);
        }

        if (amount > BillingRules.MaxAmount)
        {
            throw new PanelRefusedException(FormattableString.Invariant($"An amount is at most {BillingRules.MaxAmount:0}."), field);
        }

        return amount;
    }

    /// <summary>Refuses a price that is negative, has more than 4 decimals or exceeds <see cref="BillingRules.MaxAmount"/>.</summary>
    /// <exception cref="PanelRefusedException">The price is not acceptable.</exception>
    public static decimal CheckPrice(decimal price, string field)
    {
        if (price < 0)
        {
            throw new PanelRefusedException("A price cannot be negative.", field);
        }

        if (price != Math.Round(price, BillingRules.PriceDecimals))
        {
            throw new PanelRefusedException("A price has at most 4 decimals.", field);
        }

        if (price > BillingRules.MaxAmount)
        {
            throw new PanelRefusedException(FormattableString.Invariant($"A price is at most {BillingRules.MaxAmount:0}."), field);
        }

        return price;
    }

    /// <summary>
    /// Parses an amount as typed: digits with an optional <c>.</c> and up to 2 decimals (<c>12</c>,
    /// <c>12.5</c>, <c>12.50</c>). Signs, exponents, thousands separators, spaces inside and anything
    /// else are refused, as are the amounts <see cref="CheckAmount"/> refuses.
    /// </summary>
    /// <exception cref="PanelRefusedException">Not an amount.</exception>
    public static decimal ParseAmount(string? text, string field = "Amount")
    {
        var s = (text ?? "").Trim();
        if (s.StartsWith('-'))
        {
            throw new PanelRefusedException("The amount must be greater than 0.", field);
        }

        if (s.Length is 0 or > 20 || !s.All(c => char.IsAsciiDigit(c) || c == '.') || s.Count(c => c == '.') > 1 || s[0] == '.' || s[^1] == '.'
            || !decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            throw new PanelRefusedException($"'{Shorten(s)}' is not an amount; write it like 12.50.", field);
        }

        return CheckAmount(amount, field);
    }

    private static string Shorten(string s) => s.Length <= 24 ? s : s[..24] + "…";
}
