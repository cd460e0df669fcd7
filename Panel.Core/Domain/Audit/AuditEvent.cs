namespace Panel.Core.Domain.Audit;

/// <summary>One line of the audit log: who did what to which object, and when. Append-only.</summary>
public sealed class AuditEvent
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>When it happened (UTC).</summary>
    public DateTime At { get; set; }

    /// <summary>The acting user, or null for the system or an anonymous visitor.</summary>
    public Guid? ActorId { get; set; }

    /// <summary>The actor's email at the time (kept when the account is gone), or <c>system</c>.</summary>
    public string Actor { get; set; } = "";

    /// <summary>A dotted action name such as <c>account.signin</c>; see <see cref="AuditActions"/>.</summary>
    public string Action { get; set; } = "";

    /// <summary>What the action touched, for example <c>user:3f2a…</c>.</summary>
    public string? Target { get; set; }

    /// <summary>A short human-readable detail.</summary>
    public string? Details { get; set; }

    /// <summary>The client address, when the action came over HTTP.</summary>
    public string? IpAddress { get; set; }
}
