using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Billing;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Settings;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>
/// Tax rates per country (admins), customers' billing profiles (country, business, VAT number) and the
/// seller's details on invoices. Every value is checked here; a bad one is refused, audited and changes nothing.
/// </summary>
public sealed class TaxService(IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, TimeProvider clock)
{
    /// <summary>Every country's rate, by country code (admins).</summary>
    public async Task<IReadOnlyList<TaxRateView>> RatesAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.TaxRates.AsNoTracking().OrderBy(r => r.CountryCode)
            .Select(r => new TaxRateView(r.CountryCode, r.RatePercent, r.Name, r.UpdatedAt, r.UpdatedBy)).ToListAsync(cancellationToken);
    }

    /// <summary>Sets a country's rate (admins; audited): a country code, 0-100 % with up to 2 decimals, a label of 1-20 characters.</summary>
    /// <exception cref="PanelRefusedException">A bad country, rate or label; nothing changed.</exception>
    public async Task<TaxRateView> SetRateAsync(Actor actor, string country, decimal ratePercent, string? label = null, CancellationToken cancellationToken = default)
    {
        await audit.RequireAdminAsync(actor, AuditActions.BillingRefused, $"tax:{country}", "tax rate", cancellationToken);
        try
        {
            var code = CheckCountry(country, "Country") ?? throw new PanelRefusedException("Give a country code such as DE.", "Country");
            var rate = CheckRate(ratePercent);
            var name = string.IsNullOrWhiteSpace(label) ? "VAT" : label.Trim();
            if (name.Length > 20 || name.Any(char.IsControl))
            {
                throw new PanelRefusedException("A tax's name is 1-20 characters, such as VAT.", "Label");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await db.Database.ExecuteSqlInterpolatedAsync(
                $"""
                INSERT INTO tax_rates (country_code, rate_percent, name, updated_at, updated_by) VALUES ({code}, {rate}, {name}, {now}, {actor.Name})
                ON CONFLICT (country_code) DO UPDATE SET rate_percent = excluded.rate_percent, name = excluded.name, updated_at = excluded.updated_at, updated_by = excluded.updated_by
                """,
                cancellationToken);
            await audit.RecordAsync(actor, AuditActions.TaxRateChanged, $"tax:{code}", FormattableString.Invariant($"{code}: {name} {rate:0.00} %"), cancellationToken);
            return new TaxRateView(code, rate, name, now, actor.Name);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.BillingRefused, $"tax:{country}", "tax rate: " + ex.Message, cancellationToken);
            throw;
        }
    }

    /// <summary>Removes a country's rate (admins; audited): its invoices are then untaxed. Invoices already issued keep theirs.</summary>
    public async Task RemoveRateAsync(Actor actor, string country, CancellationToken cancellationToken = default)
    {
        await audit.RequireAdminAsync(actor, AuditActions.BillingRefused, $"tax:{country}", "tax rate", cancellationToken);
        var code = CheckCountry(country, "Country") ?? throw new PanelRefusedException("Give a country code such as DE.", "Country");
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await db.TaxRates.Where(r => r.CountryCode == code).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            throw new PanelRefusedException($"No tax rate is set for {code}.", "Country");
        }

        await audit.RecordAsync(actor, AuditActions.TaxRateChanged, $"tax:{code}", $"{code}: removed", cancellationToken);
    }

    /// <summary>A customer's billing profile: their own for customers, anyone's for admins.</summary>
    public async Task<BillingProfile> ProfileAsync(Actor actor, Guid customerId, CancellationToken cancellationToken = default)
    {
        Require.SelfOrAdmin(actor, customerId);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var a = await db.BillingAccounts.AsNoTracking().FirstOrDefaultAsync(x => x.CustomerId == customerId, cancellationToken);
        return a is null ? new BillingProfile(null, null, null, false, null) : new BillingProfile(a.LegalName, a.Address, a.Country, a.IsBusiness, a.VatNumber);
    }

    /// <summary>
    /// Sets a customer's billing profile (the customer or an admin; audited). The country is an ISO 3166
    /// code or empty; a VAT number (businesses only) is a country prefix and 2-13 letters or digits
    /// (spaces, dots and dashes are dropped). It applies to invoices issued from now on.
    /// </summary>
    /// <exception cref="PanelRefusedException">A bad value; nothing changed.</exception>
    public async Task<BillingProfile> SetProfileAsync(Actor actor, Guid customerId, BillingProfile profile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(profile);
        Require.SelfOrAdmin(actor, customerId);
        try
        {
            var clean = CheckProfile(profile);
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var now = clock.GetUtcNow().UtcDateTime;
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            await BillingService.LockAccountAsync(db, customerId, now, cancellationToken);
            await db.BillingAccounts.Where(a => a.CustomerId == customerId).ExecuteUpdateAsync(s => s
                .SetProperty(a => a.LegalName, clean.LegalName).SetProperty(a => a.Address, clean.Address).SetProperty(a => a.Country, clean.Country)
                .SetProperty(a => a.IsBusiness, clean.IsBusiness).SetProperty(a => a.VatNumber, clean.VatNumber), cancellationToken);
            await tx.CommitAsync(cancellationToken);
            await audit.RecordAsync(actor, AuditActions.BillingProfileChanged, $"user:{customerId}",
                $"country {clean.Country ?? "-"}, {(clean.IsBusiness ? "business" : "private")}{(clean.VatNumber is null ? "" : ", VAT " + clean.VatNumber)}", cancellationToken);
            return clean;
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.BillingRefused, $"user:{customerId}", "billing profile: " + ex.Message, cancellationToken);
            throw;
        }
    }

    /// <summary>The seller's details printed on invoices (anyone signed in may read them: they are on every invoice).</summary>
    public async Task<SellerDetails> SellerAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await SellerAsync(db, cancellationToken);
    }

    /// <summary>Sets the seller's details (admins; audited). The country decides the reverse charge.</summary>
    /// <exception cref="PanelRefusedException">A bad country, VAT number or over-long text; nothing changed.</exception>
    public async Task SetSellerAsync(Actor actor, SellerDetails seller, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(seller);
        await audit.RequireAdminAsync(actor, AuditActions.BillingRefused, "setting:billing.seller", "seller", cancellationToken);
        try
        {
            var country = CheckCountry(seller.Country, "Country");
            var name = CheckText(seller.Name, 200, "Name");
            var address = CheckText(seller.Address, 500, "Address", multiline: true);
            var vat = CheckVat(seller.VatNumber);
            var now = clock.GetUtcNow().UtcDateTime;
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            foreach (var (key, value) in new[] { (SettingKeys.SellerCountry, country), (SettingKeys.SellerName, name), (SettingKeys.SellerAddress, address), (SettingKeys.SellerVatNumber, vat) })
            {
                await db.Database.ExecuteSqlInterpolatedAsync(
                    $"""
                    INSERT INTO settings (key, value, updated_at, updated_by) VALUES ({key}, {value ?? ""}, {now}, {actor.Name})
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by
                    """,
                    cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
            await audit.RecordAsync(actor, AuditActions.SellerChanged, "setting:billing.seller", $"country {country ?? "-"}, {name ?? "-"}, VAT {vat ?? "-"}", cancellationToken);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.BillingRefused, "setting:billing.seller", "seller: " + ex.Message, cancellationToken);
            throw;
        }
    }

    /// <summary>The seller as <paramref name="db"/> sees it (inside a caller's transaction).</summary>
    internal static async Task<SellerDetails> SellerAsync(PanelDbContext db, CancellationToken cancellationToken)
    {
        var keys = new[] { SettingKeys.SellerCountry, SettingKeys.SellerName, SettingKeys.SellerAddress, SettingKeys.SellerVatNumber };
        var values = await db.Settings.AsNoTracking().Where(s => keys.Contains(s.Key)).ToDictionaryAsync(s => s.Key, s => s.Value, cancellationToken);
        string? Get(string key) => values.TryGetValue(key, out var v) && v.Length > 0 ? v : null;
        return new SellerDetails(Get(SettingKeys.SellerCountry), Get(SettingKeys.SellerName), Get(SettingKeys.SellerAddress), Get(SettingKeys.SellerVatNumber));
    }

    /// <summary>The rates as <see cref="BillingRules.TaxFor"/> takes them.</summary>
    internal static async Task<Dictionary<string, (decimal Percent, string Label)>> RateTableAsync(PanelDbContext db, CancellationToken cancellationToken)
        => await db.TaxRates.AsNoTracking().ToDictionaryAsync(r => r.CountryCode, r => (r.RatePercent, r.Name), StringComparer.Ordinal, cancellationToken);

    /// <summary>The "bill to" block printed on an invoice: name, address, country, VAT number; one line each.</summary>
    internal static string BillTo(BillingAccount account, string email)
    {
        var text = new StringBuilder(account.LegalName ?? email);
        if (account.Address is { Length: > 0 } address)
        {
            text.Append('\n').Append(address);
        }

        if (account.Country is { } country)
        {
            text.Append('\n').Append(country);
        }

        if (account.VatNumber is { } vat)
        {
            text.Append("\nVAT ").Append(vat);
        }

        var s = text.ToString();
        return s.Length <= 1000 ? s : s[..1000];
    }

    /// <summary>Checks and normalizes a profile.</summary>
    /// <exception cref="PanelRefusedException">A bad value.</exception>
    public static BillingProfile CheckProfile(BillingProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var country = CheckCountry(profile.Country, "Country");
        var vat = CheckVat(profile.VatNumber);
        if (vat is not null && !profile.IsBusiness)
        {
            throw new PanelRefusedException("Only a business has a VAT number; tick 'business' or leave it empty.", "VatNumber");
        }

        if (vat is not null && country is null)
        {
            throw new PanelRefusedException("Give the country of the business with the VAT number.", "Country");
        }

        return new BillingProfile(CheckText(profile.LegalName, 200, "LegalName"), CheckText(profile.Address, 500, "Address", multiline: true), country, profile.IsBusiness, vat);
    }

    /// <summary>Null for empty; else two capital letters of an assigned ISO 3166-1 code (lower case is accepted).</summary>
    private static string? CheckCountry(string? country, string field)
    {
        var code = (country ?? "").Trim().ToUpperInvariant();
        if (code.Length == 0)
        {
            return null;
        }

        return Countries.IsCode(code) ? code : throw new PanelRefusedException($"'{Shorten(code)}' is not an ISO 3166 country code such as DE or FR.", field);
    }

    private static decimal CheckRate(decimal rate)
    {
        if (rate is < 0 or > 100)
        {
            throw new PanelRefusedException("A tax rate is between 0 and 100 %.", "Rate");
        }

        return rate == Math.Round(rate, 2) ? rate : throw new PanelRefusedException("A tax rate has at most 2 decimals.", "Rate");
    }

    /// <summary>Null for empty; else a country prefix and 2-13 letters or digits, without spaces, dots or dashes.</summary>
    private static string? CheckVat(string? vat)
    {
        var s = new string((vat ?? "").Where(c => c is not (' ' or '.' or '-')).ToArray()).ToUpperInvariant();
        if (s.Length == 0)
        {
            return null;
        }

        if (s.Length is < 4 or > 15 || !char.IsAsciiLetterUpper(s[0]) || !char.IsAsciiLetterUpper(s[1]) || !s.Skip(2).All(char.IsAsciiLetterOrDigit) || !s.Skip(2).Any(char.IsAsciiDigit))
        {
            throw new PanelRefusedException($"'{Shorten(vat!.Trim())}' is not a VAT number; write it with its country prefix, like DE123456789.", "VatNumber");
        }

        return s;
    }

    private static string? CheckText(string? text, int max, string field, bool multiline = false)
    {
        var s = (text ?? "").Trim().Replace("\r\n", "\n", StringComparison.Ordinal);
        if (s.Length == 0)
        {
            return null;
        }

        if (s.Length > max || s.Any(c => char.IsControl(c) && !(multiline && c == '\n')))
        {
            throw new PanelRefusedException(string.Create(CultureInfo.InvariantCulture, $"At most {max} characters{(multiline ? "" : " on one line")}."), field);
        }

        return s;
    }

    private static string Shorten(string s) => s.Length <= 24 ? s : s[..24] + "…";


}
