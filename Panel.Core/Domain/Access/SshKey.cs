namespace Panel.Core.Domain.Access;

/// <summary>An SSH public key a customer keeps in the panel, to put on servers when ordering, reinstalling or resetting access.</summary>
public sealed class SshKey
{
    /// <summary>The longest key line kept (an RSA 16384-bit key is about 2,800 characters).</summary>
    public const int MaxKeyLength = 8192;

    /// <summary>The most keys one customer keeps.</summary>
    public const int MaxPerOwner = 50;

    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>The customer it belongs to.</summary>
    public Guid OwnerId { get; set; }

    /// <summary>A name the customer gave it (unique per customer).</summary>
    public string Name { get; set; } = "";

    /// <summary>The key as one OpenSSH line (<c>type base64 [comment]</c>), normalized.</summary>
    public string PublicKey { get; set; } = "";

    /// <summary>Its SHA-256 fingerprint as OpenSSH prints it (<c>SHA256:…</c>; unique per customer).</summary>
    public string Fingerprint { get; set; } = "";

    /// <summary>When it was added (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}
