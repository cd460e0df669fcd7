using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
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
