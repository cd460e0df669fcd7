using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Api;
using Panel.Core.Domain.Audit;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>What a user asks for when making a token.</summary>
/// <param name="Name">A label (1-100 characters).</param>
/// <param name="Scopes">Scopes from <see cref="ApiScopes.All"/>; at least one.</param>
/// <param name="ExpiresAt">When it stops working (UTC): in the future, at most a year away.</param>
/// <param name="Kind">Personal, or admin (admins only).</param>
public sealed record ApiTokenRequest(string Name, IReadOnlyList<string> Scopes, DateTime ExpiresAt, ApiTokenKind Kind = ApiTokenKind.Personal);

/// <summary>A token as its owner sees it (never the secret).</summary>
/// <param name="Id">Token id.</param>
/// <param name="Name">Label.</param>
/// <param name="Kind">Personal or admin.</param>
/// <param name="Scopes">Scopes.</param>
/// <param name="Prefix">The secret's first characters.</param>
/// <param name="CreatedAt">Made (UTC).</param>
/// <param name="ExpiresAt">Expires (UTC).</param>
/// <param name="LastUsedAt">Last used (UTC, to the minute).</param>
/// <param name="RevokedAt">Revoked (UTC).</param>
public sealed record ApiTokenView(Guid Id, string Name, ApiTokenKind Kind, IReadOnlyList<string> Scopes, string Prefix, DateTime CreatedAt, DateTime ExpiresAt, DateTime? LastUsedAt, DateTime? RevokedAt);

/// <summary>A new token and its secret, which is shown this once.</summary>
/// <param name="Token">The token.</param>
/// <param name="Secret">The bearer secret, <c>vpsp_…</c>.</param>
public sealed record ApiTokenCreated(ApiTokenView Token, string Secret);

/// <summary>Who a presented secret acts as.</summary>
/// <param name="TokenId">The token.</param>
/// <param name="UserId">Its owner.</param>
/// <param name="UserName">The owner's email.</param>
/// <param name="Roles">The roles it acts with: the owner's, without Admin unless it is an admin token.</param>
/// <param name="Scopes">Its scopes.</param>
public sealed record ApiTokenIdentity(Guid TokenId, Guid UserId, string UserName, IReadOnlyList<string> Roles, IReadOnlyList<string> Scopes);

/// <summary>
/// API tokens: made, listed and revoked by their owners, and checked for every API call. A secret is
/// <c>vpsp_</c> + 40 random base62-ish characters (240 bits); only its SHA-256 is stored, so a leaked
/// table holds no usable secret. A personal token acts as a customer; an admin token acts with its
/// owner's admin role (looked up at each call, so a demoted admin's tokens lose it at once).
/// </summary>
public sealed class ApiTokenService(IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, TimeProvider clock)
{
    /// <summary>The start of every secret.</summary>
    public const string SecretPrefix = "vpsp_";

    /// <summary>The longest a token may live.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(366);

    /// <summary>Live (not revoked, not expired) tokens a user may hold.</summary>
    public const int MaxActivePerUser = 50;

    private const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    /// <summary>Makes a token for the caller. The secret in the answer is not stored and cannot be shown again.</summary>
    /// <exception cref="PanelRefusedException">A bad name, scope or expiry; nothing is stored.</exception>
    public async Task<ApiTokenCreated> CreateAsync(Actor actor, ApiTokenRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var ownerId = RequireUser(actor);
        var now = clock.GetUtcNow().UtcDateTime;
        var name = (request.Name ?? "").Trim();
        if (name.Length is 0 or > 100)
        {
            throw new PanelRefusedException("Give the token a name of 1-100 characters.", "Name");
        }

        if (request.Kind == ApiTokenKind.Admin && !actor.IsAdmin)
        {
            await audit.RecordAsync(actor, AuditActions.ApiTokenRefused, null, "admin token: only admins can make one", cancellationToken);
            throw new UnauthorizedAccessException("Only admins can make admin tokens.");
        }

        var scopes = (request.Scopes ?? []).Select(s => (s ?? "").Trim()).Distinct(StringComparer.Ordinal).ToList();
        if (scopes.Count == 0)
        {
            throw new PanelRefusedException("Choose at least one scope.", "Scopes");
        }

        if (scopes.FirstOrDefault(s => !ApiScopes.All.Contains(s)) is { } unknown)
        {
            throw new PanelRefusedException($"There is no scope called {unknown}; choose from {string.Join(", ", ApiScopes.All)}.", "Scopes");
        }

        if (request.Kind != ApiTokenKind.Admin && scopes.FirstOrDefault(ApiScopes.AdminOnly.Contains) is { } adminOnly)
        {
            throw new PanelRefusedException($"The scope {adminOnly} is for admin tokens only.", "Scopes");
        }

        var expires = DateTime.SpecifyKind(request.ExpiresAt, DateTimeKind.Utc);
        if (expires <= now)
        {
            throw new PanelRefusedException("Choose an expiry date in the future.", "ExpiresAt");
        }

        if (expires > now + MaxLifetime)
        {
            throw new PanelRefusedException("A token lives at most a year; choose an earlier expiry date.", "ExpiresAt");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await db.ApiTokens.CountAsync(t => t.OwnerId == ownerId && t.RevokedAt == null && t.ExpiresAt > now, cancellationToken) >= MaxActivePerUser)
        {
            throw new PanelRefusedException($"You have {MaxActivePerUser} live tokens; revoke one first.");
        }

        var secret = SecretPrefix + RandomNumberGenerator.GetString(Alphabet, 40);
        var token = new ApiToken
        {
            Id = Guid.NewGuid(),
            OwnerId = ownerId,
            Name = name,
            Kind = request.Kind,
            Scopes = [.. ApiScopes.All.Where(scopes.Contains)],
            Prefix = secret[..(SecretPrefix.Length + 4)],
            SecretHash = Hash(secret),
            CreatedAt = now,
            ExpiresAt = expires,
        };
        db.ApiTokens.Add(token);
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.ApiTokenCreated, $"api_token:{token.Id}",
            FormattableString.Invariant($"{token.Kind.ToString().ToLowerInvariant()} token {name} ({string.Join(" ", token.Scopes)}), expires {expires:yyyy-MM-dd}"), cancellationToken);
        return new ApiTokenCreated(View(token), secret);
    }

    /// <summary>The caller's own tokens, newest first (admins too see only their own).</summary>
    public async Task<IReadOnlyList<ApiTokenView>> ListAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        var ownerId = RequireUser(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var tokens = await db.ApiTokens.AsNoTracking().Where(t => t.OwnerId == ownerId)
            .OrderByDescending(t => t.CreatedAt).Take(500).ToListAsync(cancellationToken);
        return tokens.Select(View).ToList();
    }

    /// <summary>Revokes one of the caller's tokens (admins: anyone's); it stops working at once.</summary>
    /// <exception cref="PanelNotFoundException">No such token of the caller's.</exception>
    /// <exception cref="PanelRefusedException">It is already revoked.</exception>
    public async Task RevokeAsync(Actor actor, Guid tokenId, CancellationToken cancellationToken = default)
    {
        var caller = RequireUser(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var token = await db.ApiTokens.FirstOrDefaultAsync(t => t.Id == tokenId && (actor.IsAdmin || t.OwnerId == caller), cancellationToken)
                    ?? throw new PanelNotFoundException("No such token.");
        if (token.RevokedAt is not null)
        {
            throw new PanelRefusedException($"The token {token.Name} is already revoked.");
        }

        token.Revoke(clock.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.ApiTokenRevoked, $"api_token:{token.Id}", token.Name, cancellationToken);
    }

    /// <summary>
    /// Who <paramref name="secret"/> acts as, or null when it is unknown, revoked or expired. Marks the token used (at most one write a minute).
    /// </summary>
    /// <remarks>A call with an expired or revoked token is written to the audit log.</remarks>
    public async Task<ApiTokenIdentity?> AuthenticateAsync(string secret, string? ipAddress = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(secret) || !secret.StartsWith(SecretPrefix, StringComparison.Ordinal) || secret.Length > 200)
        {
            return null;
        }

        var hash = Hash(secret);
        var now = clock.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var found = await db.ApiTokens.AsNoTracking().Where(t => t.SecretHash == hash)
            .Select(t => new
            {
                Token = t,
                Email = db.Users.Where(u => u.Id == t.OwnerId).Select(u => u.Email).First(),
                Roles = db.UserRoles.Where(r => r.UserId == t.OwnerId).Join(db.Roles, ur => ur.RoleId, r => r.Id, (_, r) => r.Name!).ToList(),
            })
            .FirstOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            return null;
        }

        if (!found.Token.IsActive(now))
        {
            var why = found.Token.RevokedAt is not null ? "revoked" : "expired";
            await audit.RecordAsync(new Actor(found.Token.OwnerId, found.Email ?? "", false, ipAddress), AuditActions.ApiUnauthorized,
                $"api_token:{found.Token.Id}", $"a call with the {why} token {found.Token.Name}", cancellationToken);
            return null;
        }

        var minute = now.AddMinutes(-1);
        await db.ApiTokens.Where(t => t.Id == found.Token.Id && (t.LastUsedAt == null || t.LastUsedAt < minute))
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.LastUsedAt, now), cancellationToken);
        var roles = found.Token.Kind == ApiTokenKind.Admin ? found.Roles : found.Roles.Where(r => r != Roles.Admin).ToList();
        if (!roles.Contains(Roles.Admin) && !roles.Contains(Roles.Customer))
        {
            roles = [.. roles, Roles.Customer];
        }

        // An admin token whose owner is no longer an admin keeps no admin-only scope.
        var scopes = roles.Contains(Roles.Admin) ? found.Token.Scopes : found.Token.Scopes.Where(s => !ApiScopes.AdminOnly.Contains(s)).ToList();
        return new ApiTokenIdentity(found.Token.Id, found.Token.OwnerId, found.Email ?? found.Token.OwnerId.ToString(), roles, scopes);
    }

    /// <summary>SHA-256 of a secret.</summary>
    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static ApiTokenView View(ApiToken t) => new(t.Id, t.Name, t.Kind, t.Scopes, t.Prefix, t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt);

    private static Guid RequireUser(Actor actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return actor.UserId ?? throw new UnauthorizedAccessException("Sign in first.");
    }
}
