using System.Globalization;
using Panel.Core.Services;

namespace Panel.Core.Hosting;

/// <summary>Domain names of sites: trimmed, lower case, IDNA ASCII form (punycode), validated as a host name.</summary>
public static class DomainName
{
    private static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true, AllowUnassigned = false };

    /// <summary>The normalized form of <paramref name="input"/>, or a refusal saying what is wrong.</summary>
    public static string Normalize(string? input, string field = "Domain")
    {
        var raw = (input ?? "").Trim().TrimEnd('.');
        if (raw.Length == 0)
        {
            throw new PanelRefusedException("Enter a domain name, e.g. example.com.", field);
        }

        string ascii;
        try
        {
            ascii = Idn.GetAscii(raw).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            throw new PanelRefusedException($"'{raw}' is not a valid domain name (letters, digits and dashes in dot-separated labels; no label starts or ends with a dash).", field);
        }

        var labels = ascii.Split('.');
        if (ascii.Length > 253 || labels.Length < 2 || labels.Any(l => l.Length is 0 or > 63 || l[0] == '-' || l[^1] == '-' || !l.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')))
        {
            throw new PanelRefusedException($"'{raw}' is not a valid domain name (at least two dot-separated labels of letters, digits and dashes, up to 63 characters each).", field);
        }

        if (labels[^1].All(char.IsAsciiDigit))
        {
            throw new PanelRefusedException($"'{raw}' is an address, not a domain name.", field);
        }

        return ascii;
    }
}
