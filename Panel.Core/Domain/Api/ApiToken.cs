namespace Panel.Core.Domain.Api;

/// <summary>What a token acts as.</summary>
public enum ApiTokenKind
{
    /// <summary>Acts as its owner, a customer, even when the owner is an admin.</summary>
    Personal,

    /// <summary>Acts with its owner's admin role (created by admins only; the role is checked at every call).</summary>
    Admin,
}

/// <summary>
/// A bearer token for <c>/api/v1</c>. Only the SHA-256 hash of its secret (<c>vpsp_…</c>) is stored; the
/// secret is shown once, when the token is made. A token expires (at most a year after it is made) and
/// can be revoked; neither ever changes back.
/// </summary>
public sealed class ApiToken
{
    /// <summary>Database identity.</summary>
    public Guid Id { get; set; }

    /// <summary>The user it belongs to and acts as.</summary>
    public Guid OwnerId { get; set; }

    /// <summary>The owner's label for it.</summary>
    public string Name { get; set; } = "";

    /// <summary>Personal or admin.</summary>
    public ApiTokenKind Kind { get; set; }

    /// <summary>What it may do (<see cref="ApiScopes"/>).</summary>
    public List<string> Scopes { get; set; } = [];

    /// <summary>The first characters of the secret (<c>vpsp_ab12</c>), so owners can tell tokens apart.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>SHA-256 of the secret.</summary>
    public byte[] SecretHash { get; set; } = [];

    /// <summary>Made (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Stops working at (UTC).</summary>
    public DateTime ExpiresAt { get; set; }

    /// <summary>Last accepted call (UTC, to the minute).</summary>
    public DateTime? LastUsedAt { get; set; }

    /// <summary>Revoked at (UTC), or null.</summary>
    public DateTime? RevokedAt { get; set; }

    /// <summary>Whether it is accepted at <paramref name="now"/>.</summary>
    public bool IsActive(DateTime now) => RevokedAt is null && ExpiresAt > now;

    /// <summary>Revokes it; revoking twice is refused.</summary>
    public void Revoke(DateTime now)
    {
        if (RevokedAt is not null)
        {
            throw new InvalidOperationException("The token is already revoked.");
        }

        RevokedAt = now;
    }
}

/// <summary>The scopes a token can carry.</summary>
public static class ApiScopes
{
    /// <summary>List and read servers, snapshots, backups and operations.</summary>
    public const string ServersRead = "servers:read";

    /// <summary>Create, power, snapshot, back up and delete servers.</summary>
    public const string ServersWrite = "servers:write";

    /// <summary>Read invoices and the balance.</summary>
    public const string BillingRead = "billing:read";

    /// <summary>Pay invoices (through the payment gateway, or from credit).</summary>
    public const string BillingWrite = "billing:write";

    /// <summary>The provisioning module (admin tokens only): create, suspend, unsuspend, terminate, change plan, usage by service id.</summary>
    public const string Provisioning = "provisioning";

    /// <summary>Every scope, in display order.</summary>
    public static IReadOnlyList<string> All { get; } = [ServersRead, ServersWrite, BillingRead, BillingWrite, Provisioning];

    /// <summary>Scopes only admin tokens may carry.</summary>
    public static IReadOnlyList<string> AdminOnly { get; } = [Provisioning];
}
