using Microsoft.EntityFrameworkCore;
using Npgsql;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>
/// Coupons: admins create them, customers redeem them (once each, while valid and not used up); the
/// next invoice issued to the customer takes the discount (<see cref="InvoicingService"/>). A refused
/// redemption says why, is audited and changes nothing.
/// </summary>
public sealed class CouponService(IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, TimeProvider clock)
{
    /// <summary>Coupons, newest first, one page (admins).</summary>
    public async Task<(int Total, IReadOnlyList<CouponView> Rows)> ListAsync(Actor actor, int skip = 0, int take = 25, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var total = await db.Coupons.CountAsync(cancellationToken);
        var rows = await db.Coupons.AsNoTracking().OrderByDescending(c => c.Id).Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 200))
            .Select(c => new CouponView(c.Id, c.Code, c.Kind, c.Value, c.ValidFrom, c.ValidUntil, c.MaxRedemptions, c.Redemptions)).ToListAsync(cancellationToken);
        return (total, rows);
    }

    /// <summary>Creates a coupon (admins; audited).</summary>
    /// <exception cref="PanelRefusedException">A bad code (or one that exists), value, period or limit; nothing changed.</exception>
    public async Task<CouponView> CreateAsync(Actor actor, CouponDraft draft, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        ArgumentNullException.ThrowIfNull(actor);
        try
        {
            if (!actor.IsAdmin)
            {
                await audit.RecordAsync(actor, AuditActions.BillingRefused, "coupon:" + draft.Code, "coupon: only admins can do this", cancellationToken);
                Require.Admin(actor);
            }

            var code = NormalizeCode(draft.Code);
            if (code.Length is < 3 or > 32 || !code.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                throw new PanelRefusedException("A coupon code is 3-32 letters, digits or dashes, like WELCOME-10.", "Code");
            }

            if (draft.Kind == CouponKind.Percent)
            {
                if (draft.Value is <= 0 or > 100 || draft.Value != Math.Round(draft.Value, 2))
                {
                    throw new PanelRefusedException("A percentage is more than 0 and at most 100, with at most 2 decimals.", "Value");
                }
            }
            else if (draft.Kind == CouponKind.FixedAmount)
            {
                Money.CheckAmount(draft.Value, "Value");
            }
            else
            {
                throw new PanelRefusedException("A coupon takes a percentage or a fixed amount off.", "Kind");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var from = draft.ValidFrom?.ToUniversalTime() ?? now;
            if (draft.ValidUntil is { } until && until.ToUniversalTime() <= from)
            {
                throw new PanelRefusedException("A coupon's end must come after its start.", "ValidUntil");
            }

            if (draft.MaxRedemptions is < 1 or > 1_000_000)
            {
                throw new PanelRefusedException("The number of redemptions is 1 to 1,000,000 (or no limit).", "MaxRedemptions");
            }

            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var coupon = new Coupon
            {
                Code = code, Kind = draft.Kind, Value = draft.Value, ValidFrom = from, ValidUntil = draft.ValidUntil?.ToUniversalTime(),
                MaxRedemptions = draft.MaxRedemptions, CreatedAt = now,
            };
            db.Coupons.Add(coupon);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                throw new PanelRefusedException($"A coupon {code} exists already.", "Code");
            }

            await audit.RecordAsync(actor, AuditActions.CouponCreated, $"coupon:{coupon.Id}",
                FormattableString.Invariant($"{code}: {(coupon.Kind == CouponKind.Percent ? $"{coupon.Value:0.##} %" : $"{coupon.Value:0.00}")} off, {from:yyyy-MM-dd} to {(coupon.ValidUntil is { } u ? u.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) : "-")}, at most {(coupon.MaxRedemptions?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "any")}"),
                cancellationToken);
            return new CouponView(coupon.Id, coupon.Code, coupon.Kind, coupon.Value, coupon.ValidFrom, coupon.ValidUntil, coupon.MaxRedemptions, 0);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.BillingRefused, "coupon:" + draft.Code, "coupon: " + ex.Message, cancellationToken);
            throw;
        }
    }

    /// <summary>
    /// Redeems a coupon for the calling customer (audited): the next invoice gets its discount. Refused,
    /// with the reason, when the code is unknown, not yet or no longer valid, used up, already redeemed
    /// by this customer, or another coupon still waits for an invoice.
    /// </summary>
    /// <exception cref="PanelRefusedException">Refused; nothing changed.</exception>
    public async Task<RedemptionView> RedeemAsync(Actor actor, string code, CancellationToken cancellationToken = default)
    {
        var customerId = Require.User(actor);
        if (actor.UserId is null)
        {
            throw new PanelRefusedException("Only a customer can redeem a coupon.", "Code");
        }

        var normalized = NormalizeCode(code);
        try
        {
            var now = clock.GetUtcNow().UtcDateTime;
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await using var tx = await db.Database.BeginTransactionAsync(cancellationToken);
            await BillingService.LockAccountAsync(db, customerId, now, cancellationToken);
            // The coupon's row lock counts redemptions one at a time: the limit holds under concurrency.
            var coupon = (await db.Coupons.FromSql($"SELECT * FROM coupons WHERE code = {normalized} FOR UPDATE").AsNoTracking().ToListAsync(cancellationToken)).SingleOrDefault()
                         ?? throw new PanelRefusedException($"There is no coupon '{Shorten(normalized)}'.", "Code");
            if (now < coupon.ValidFrom)
            {
                throw new PanelRefusedException(FormattableString.Invariant($"Coupon {coupon.Code} is valid from {coupon.ValidFrom:yyyy-MM-dd HH:mm} UTC."), "Code");
            }

            if (coupon.ValidUntil is { } until && now >= until)
            {
                throw new PanelRefusedException(FormattableString.Invariant($"Coupon {coupon.Code} expired on {until:yyyy-MM-dd HH:mm} UTC."), "Code");
            }

            if (coupon.MaxRedemptions is { } max && coupon.Redemptions >= max)
            {
                throw new PanelRefusedException($"Coupon {coupon.Code} has been used up.", "Code");
            }

            if (await db.CouponRedemptions.AnyAsync(r => r.CouponId == coupon.Id && r.CustomerId == customerId, cancellationToken))
            {
                throw new PanelRefusedException($"You have redeemed coupon {coupon.Code} already.", "Code");
            }

            var waiting = await db.CouponRedemptions.Where(r => r.CustomerId == customerId && r.InvoiceId == null)
                .Join(db.Coupons, r => r.CouponId, c => c.Id, (r, c) => c.Code).FirstOrDefaultAsync(cancellationToken);
            if (waiting is not null)
            {
                throw new PanelRefusedException($"Coupon {waiting} still waits for your next invoice; redeem another one after it.", "Code");
            }

            db.CouponRedemptions.Add(new CouponRedemption { CouponId = coupon.Id, CustomerId = customerId, RedeemedAt = now });
            await db.SaveChangesAsync(cancellationToken);
            await db.Coupons.Where(c => c.Id == coupon.Id).ExecuteUpdateAsync(s => s.SetProperty(c => c.Redemptions, c => c.Redemptions + 1), cancellationToken);
            await tx.CommitAsync(cancellationToken);
            await audit.RecordAsync(actor, AuditActions.CouponRedeemed, $"coupon:{coupon.Id}", $"{coupon.Code} by user:{customerId}", cancellationToken);
            return new RedemptionView(coupon.Code, coupon.Kind, coupon.Value, now, null);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(actor, AuditActions.BillingRefused, $"user:{customerId}", "coupon: " + ex.Message, cancellationToken);
            throw;
        }
    }

    /// <summary>A customer's redemptions, newest first: their own for customers, anyone's for admins.</summary>
    public async Task<IReadOnlyList<RedemptionView>> RedemptionsAsync(Actor actor, Guid customerId, CancellationToken cancellationToken = default)
    {
        var caller = Require.User(actor);
        if (!actor.IsAdmin && caller != customerId)
        {
            throw new PanelNotFoundException("No such customer.");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.CouponRedemptions.AsNoTracking().Where(r => r.CustomerId == customerId).OrderByDescending(r => r.Id)
            .Join(db.Coupons, r => r.CouponId, c => c.Id, (r, c) => new RedemptionView(c.Code, c.Kind, c.Value, r.RedeemedAt, r.InvoiceId))
            .Take(100).ToListAsync(cancellationToken);
    }

    private static string NormalizeCode(string? code) => (code ?? "").Trim().ToUpperInvariant();

    private static string Shorten(string s) => s.Length <= 32 ? s : s[..32] + "…";
}
