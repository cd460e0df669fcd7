using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Panel.Core.Domain.Access;
using Panel.Core.Domain.Audit;
using Panel.Core.Persistence;
using Panel.Hypervisor.Guest;

namespace Panel.Core.Services;

/// <summary>A saved SSH key as pages list it.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Name">Its name.</param>
/// <param name="PublicKey">The OpenSSH line.</param>
/// <param name="Fingerprint">SHA-256 fingerprint (<c>SHA256:…</c>).</param>
/// <param name="CreatedAt">Added (UTC).</param>
public sealed record SshKeyView(int Id, string Name, string PublicKey, string Fingerprint, DateTime CreatedAt);

/// <summary>
/// A customer's saved SSH public keys. Everyone reaches only their own keys (another's id is "not
/// found"); keys are checked with the engine's <see cref="SshPublicKey"/> parser before they are kept.
/// </summary>
public sealed class SshKeyService(IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, Hosting.HostingSync hosting, TimeProvider clock)
{
    /// <summary>The caller's keys, by name.</summary>
    public async Task<IReadOnlyList<SshKeyView>> ListAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        var owner = Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.SshKeys.AsNoTracking().Where(k => k.OwnerId == owner).OrderBy(k => k.Name)
            .Select(k => new SshKeyView(k.Id, k.Name, k.PublicKey, k.Fingerprint, k.CreatedAt)).ToListAsync(cancellationToken);
    }

    /// <summary>One of the caller's keys.</summary>
    public async Task<SshKeyView> GetAsync(Actor actor, int keyId, CancellationToken cancellationToken = default)
    {
        var owner = Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.SshKeys.AsNoTracking().Where(k => k.Id == keyId && k.OwnerId == owner)
                   .Select(k => new SshKeyView(k.Id, k.Name, k.PublicKey, k.Fingerprint, k.CreatedAt)).FirstOrDefaultAsync(cancellationToken)
               ?? throw new PanelNotFoundException($"No SSH key #{keyId}.");
    }

    /// <summary>Adds a key: a name of 1-64 characters (unique among the caller's keys) and one valid OpenSSH public key line.</summary>
    public async Task<SshKeyView> AddAsync(Actor actor, string name, string publicKey, CancellationToken cancellationToken = default)
    {
        var owner = Require.User(actor);
        var label = (name ?? "").Trim();
        if (label.Length is 0 or > 64 || label.Any(char.IsControl))
        {
            throw new PanelRefusedException("Give the key a name of 1-64 characters.", "Name");
        }

        var line = (publicKey ?? "").Trim();
        if (line.Length > SshKey.MaxKeyLength)
        {
            throw new PanelRefusedException($"An SSH public key has at most {SshKey.MaxKeyLength} characters.", "PublicKey");
        }

        if (line.Contains('\n', StringComparison.Ordinal))
        {
            throw new PanelRefusedException("Paste one key per entry (a single line).", "PublicKey");
        }

        if (!SshPublicKey.TryParse(line, out var normalized, out var error))
        {
            throw new PanelRefusedException($"This is not an SSH public key: {error}.", "PublicKey");
        }

        var fingerprint = Fingerprint(normalized);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var mine = await db.SshKeys.Where(k => k.OwnerId == owner).Select(k => new { k.Name, k.Fingerprint }).ToListAsync(cancellationToken);
        var refusal = mine.Count >= SshKey.MaxPerOwner ? ($"You can keep at most {SshKey.MaxPerOwner} SSH keys; delete one first.", "PublicKey")
            : mine.Any(k => k.Fingerprint == fingerprint) ? ("You have saved this key already.", "PublicKey")
            : mine.Any(k => k.Name == label) ? ($"You have a key called {label} already.", "Name")
            : default((string, string)?);
        if (refusal is { } r)
        {
            throw new PanelRefusedException(r.Item1, r.Item2);
        }

        var key = new SshKey { OwnerId = owner, Name = label, PublicKey = normalized, Fingerprint = fingerprint, CreatedAt = clock.GetUtcNow().UtcDateTime };
        db.SshKeys.Add(key);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw new PanelRefusedException("You have saved this key, or a key of this name, already.", "PublicKey");
        }

        await audit.RecordAsync(actor, AuditActions.SshKeyAdded, $"sshkey:{key.Id}", $"{label} ({fingerprint})", cancellationToken);
        await SyncHostingAsync(owner, cancellationToken);
        return new SshKeyView(key.Id, key.Name, key.PublicKey, key.Fingerprint, key.CreatedAt);
    }

    /// <summary>Deletes one of the caller's keys (servers that have it keep it until their access is reset).</summary>
    public async Task DeleteAsync(Actor actor, int keyId, CancellationToken cancellationToken = default)
    {
        var owner = Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var key = await db.SshKeys.FirstOrDefaultAsync(k => k.Id == keyId && k.OwnerId == owner, cancellationToken)
                  ?? throw new PanelNotFoundException($"No SSH key #{keyId}.");
        db.SshKeys.Remove(key);
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.SshKeyDeleted, $"sshkey:{key.Id}", $"{key.Name} ({key.Fingerprint})", cancellationToken);
        await SyncHostingAsync(owner, cancellationToken);
    }

    // The customer's hosting space (if any) lets in exactly their saved keys by SFTP; a container that cannot be
    // reached now gets them at its next change or start, so the key change itself stands.
    private async Task SyncHostingAsync(Guid owner, CancellationToken cancellationToken)
    {
        try
        {
            await hosting.SyncOwnerAsync(owner, cancellationToken);
        }
        catch (PanelRefusedException ex)
        {
            await audit.RecordAsync(Actor.System, AuditActions.HostingRefused, $"user:{owner}", "SFTP keys not applied yet: " + ex.Message, cancellationToken);
        }
    }

    /// <summary>The OpenSSH SHA-256 fingerprint of a normalized key line: <c>SHA256:</c> and the unpadded base64 of the blob's hash.</summary>
    public static string Fingerprint(string normalizedKey)
    {
        ArgumentNullException.ThrowIfNull(normalizedKey);
        var blob = Convert.FromBase64String(normalizedKey.Split(' ')[1]);
        return "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');
    }
}
