using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Settings;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>Reads and changes installation settings. Only admins may change them; every change is audited.</summary>
public sealed class SettingsService(IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, TimeProvider clock)
{
    /// <summary>Whether visitors may sign up as customers.</summary>
    public Task<bool> IsSignUpEnabledAsync(CancellationToken cancellationToken = default)
        => GetBoolAsync(SettingKeys.SignUpEnabled, defaultValue: true, cancellationToken);

    /// <summary>Turns customer self-sign-up on or off.</summary>
    /// <exception cref="UnauthorizedAccessException">The actor is not an admin.</exception>
    public Task SetSignUpEnabledAsync(Actor actor, bool enabled, CancellationToken cancellationToken = default)
        => SetAsync(actor, SettingKeys.SignUpEnabled, enabled ? "true" : "false", cancellationToken);

    /// <summary>The default currency of a new installation.</summary>
    public const string DefaultCurrency = "EUR";

    /// <summary>The installation's currency (ISO 4217 code).</summary>
    public async Task<string> GetCurrencyAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await CurrencyAsync(db, cancellationToken);
    }

    /// <summary>Sets the installation's currency: three capital letters (ISO 4217); refused once an invoice exists in another currency.</summary>
    /// <exception cref="UnauthorizedAccessException">The actor is not an admin.</exception>
    /// <exception cref="PanelRefusedException">Not a currency code, or invoices exist.</exception>
    public async Task SetCurrencyAsync(Actor actor, string currency, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        var code = (currency ?? "").Trim();
        if (code.Length != 3 || !code.All(char.IsAsciiLetterUpper))
        {
            throw new PanelRefusedException("A currency is a three-letter ISO 4217 code such as EUR or USD.", "Currency");
        }

        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            if (await db.Invoices.AnyAsync(i => i.Currency != code, cancellationToken))
            {
                throw new PanelRefusedException("Invoices were issued in another currency; the installation's currency can no longer change.", "Currency");
            }
        }

        await SetAsync(actor, SettingKeys.BillingCurrency, code, cancellationToken);
    }

    /// <summary>The currency as seen by <paramref name="db"/> (inside a caller's transaction).</summary>
    internal static async Task<string> CurrencyAsync(PanelDbContext db, CancellationToken cancellationToken)
        => await db.Settings.AsNoTracking().Where(s => s.Key == SettingKeys.BillingCurrency).Select(s => s.Value).FirstOrDefaultAsync(cancellationToken) ?? DefaultCurrency;

    /// <summary>What dunning does (defaults where nothing was set).</summary>
    public async Task<DunningSettings> GetDunningAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await DunningAsync(db, cancellationToken);
    }

    /// <summary>
    /// Changes what dunning does (admins; each changed value audited). Days are whole numbers from 0 to
    /// <see cref="DunningSettings.MaxDays"/>, at most <see cref="DunningSettings.MaxReminders"/> reminders
    /// on either side, and termination comes after suspension.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The actor is not an admin.</exception>
    /// <exception cref="PanelRefusedException">A bad value; nothing changed.</exception>
    public async Task SetDunningAsync(Actor actor, DunningSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(settings);
        if (!actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only admins can change settings.");
        }

        var before = CheckDays(settings.RemindBeforeDays, "RemindBeforeDays", "before the due date");
        var after = CheckDays(settings.RemindAfterDays, "RemindAfterDays", "after the due date");
        CheckDay(settings.SuspendAfterDays, "SuspendAfterDays", "Suspension");
        CheckDay(settings.TerminateAfterDays, "TerminateAfterDays", "Termination");
        if (settings.TerminateAfterDays <= settings.SuspendAfterDays)
        {
            throw new PanelRefusedException(
                FormattableString.Invariant($"Termination ({settings.TerminateAfterDays} days overdue) must come after suspension ({settings.SuspendAfterDays} days)."), "TerminateAfterDays");
        }

        var values = new Dictionary<string, string>
        {
            [SettingKeys.DunningEnabled] = settings.Enabled ? "true" : "false",
            [SettingKeys.DunningRemindBefore] = string.Join(",", before),
            [SettingKeys.DunningRemindAfter] = string.Join(",", after),
            [SettingKeys.DunningSuspendAfter] = settings.SuspendAfterDays.ToString(CultureInfo.InvariantCulture),
            [SettingKeys.DunningTerminateAfter] = settings.TerminateAfterDays.ToString(CultureInfo.InvariantCulture),
        };
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var current = await db.Settings.AsNoTracking().Where(s => values.Keys.Contains(s.Key)).ToDictionaryAsync(s => s.Key, s => s.Value, cancellationToken);
        var changed = values.Where(v => !current.TryGetValue(v.Key, out var old) || old != v.Value).ToList();
        if (changed.Count == 0)
        {
            return;
        }

        var now = clock.GetUtcNow().UtcDateTime;
        // All values or none: the job never sees half a change.
        await using (var tx = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            foreach (var (key, value) in changed)
            {
                await UpsertAsync(db, key, value, now, actor.Name, cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
        }

        foreach (var (key, value) in changed)
        {
            await audit.RecordAsync(actor, AuditActions.SettingChanged, $"setting:{key}", string.Create(CultureInfo.InvariantCulture, $"{key} = {value}"), cancellationToken);
        }
    }

    /// <summary>The dunning settings as seen by <paramref name="db"/>.</summary>
    internal static async Task<DunningSettings> DunningAsync(PanelDbContext db, CancellationToken cancellationToken)
    {
        var keys = new[] { SettingKeys.DunningEnabled, SettingKeys.DunningRemindBefore, SettingKeys.DunningRemindAfter, SettingKeys.DunningSuspendAfter, SettingKeys.DunningTerminateAfter };
        var rows = await db.Settings.AsNoTracking().Where(s => keys.Contains(s.Key)).ToDictionaryAsync(s => s.Key, s => s.Value, cancellationToken);
        var d = DunningSettings.Default;
        return new DunningSettings(
            rows.TryGetValue(SettingKeys.DunningEnabled, out var on) ? bool.Parse(on) : d.Enabled,
            rows.TryGetValue(SettingKeys.DunningRemindBefore, out var b) ? ParseDays(b) : d.RemindBeforeDays,
            rows.TryGetValue(SettingKeys.DunningRemindAfter, out var a) ? ParseDays(a) : d.RemindAfterDays,
            rows.TryGetValue(SettingKeys.DunningSuspendAfter, out var s) ? int.Parse(s, CultureInfo.InvariantCulture) : d.SuspendAfterDays,
            rows.TryGetValue(SettingKeys.DunningTerminateAfter, out var t) ? int.Parse(t, CultureInfo.InvariantCulture) : d.TerminateAfterDays);
    }

    /// <summary>
    /// Parses "1, 7" as a list of days (the admin page's text field).
    /// </summary>
    /// <exception cref="PanelRefusedException">Not a comma-separated list of whole numbers.</exception>
    public static IReadOnlyList<int> ParseDays(string text, string field = "Days")
    {
        var days = new List<int>();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var day))
            {
                throw new PanelRefusedException($"'{part}' is not a number of days; write whole numbers separated by commas, such as 1, 7.", field);
            }

            days.Add(day);
        }

        return days;
    }

    private static List<int> CheckDays(IReadOnlyList<int>? days, string field, string where)
    {
        var list = (days ?? []).ToList();
        if (list.Count > DunningSettings.MaxReminders)
        {
            throw new PanelRefusedException($"At most {DunningSettings.MaxReminders} reminders {where}.", field);
        }

        foreach (var day in list)
        {
            CheckDay(day, field, "A reminder");
        }

        if (list.Distinct().Count() != list.Count)
        {
            throw new PanelRefusedException($"The reminders {where} name a day twice.", field);
        }

        list.Sort();
        return list;
    }

    private static void CheckDay(int day, string field, string what)
    {
        if (day is < 0 or > DunningSettings.MaxDays)
        {
            throw new PanelRefusedException(FormattableString.Invariant($"{what} must be 0 to {DunningSettings.MaxDays} days from the due date (was {day})."), field);
        }
    }

    private static Task<int> UpsertAsync(PanelDbContext db, string key, string value, DateTime now, string by, CancellationToken cancellationToken)
        => db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            INSERT INTO settings (key, value, updated_at, updated_by) VALUES ({key}, {value}, {now}, {by})
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by
            """,
            cancellationToken);

    private async Task<bool> GetBoolAsync(string key, bool defaultValue, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var value = await db.Settings.AsNoTracking().Where(s => s.Key == key).Select(s => s.Value).FirstOrDefaultAsync(cancellationToken);
        return value is null ? defaultValue : bool.Parse(value);
    }

    private async Task SetAsync(Actor actor, string key, string value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (!actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only admins can change settings.");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        // One statement, so two admins saving at once cannot trip over each other's insert.
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            INSERT INTO settings (key, value, updated_at, updated_by) VALUES ({key}, {value}, {now}, {actor.Name})
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by
            """,
            cancellationToken);
        await audit.RecordAsync(actor, AuditActions.SettingChanged, $"setting:{key}", string.Create(CultureInfo.InvariantCulture, $"{key} = {value}"), cancellationToken);
    }
}
