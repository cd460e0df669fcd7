using System.Globalization;

namespace Panel.Web.Components.Shared;

/// <summary>Numbers and times as pages show them (invariant culture, UTC).</summary>
public static class Format
{
    /// <summary>Bytes as MiB or GiB.</summary>
    public static string Bytes(long bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.#} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes >> 20} MiB");

    /// <summary>Traffic and small sizes: bytes, KiB, MiB or GiB with one decimal.</summary>
    public static string Traffic(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.#} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.#} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };

    /// <summary>An amount with its currency: <c>1,234.50 EUR</c>.</summary>
    public static string Money(decimal amount, string currency) => amount.ToString("#,##0.00", CultureInfo.InvariantCulture) + " " + currency;

    /// <summary>A UTC date.</summary>
    public static string Date(DateTime utc) => utc.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>A price with its currency: 2 decimals, up to 4 when it has them (hourly prices).</summary>
    public static string Price(decimal amount, string currency) => string.Create(CultureInfo.InvariantCulture, $"{amount:0.00##} {currency}");

    /// <summary>A UTC time, to the second.</summary>
    public static string Time(DateTime utc) => utc.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>An enum value in words (<c>ForceStop</c> → "force stop").</summary>
    public static string Words(Enum value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var s = value.ToString();
        var sb = new System.Text.StringBuilder();
        foreach (var c in s)
        {
            if (char.IsUpper(c) && sb.Length > 0)
            {
                sb.Append(' ');
            }

            sb.Append(char.ToLowerInvariant(c));
        }

        return sb.ToString();
    }
}
