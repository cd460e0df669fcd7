using Microsoft.AspNetCore.Identity;

namespace Panel.Core.Domain.Accounts;

/// <summary>A person who signs in to the panel: a customer or an admin (see <see cref="Roles"/>).</summary>
public sealed class PanelUser : IdentityUser<Guid>
{
    /// <summary>The name shown in the app bar and to admins; defaults to the email's local part.</summary>
    public string DisplayName { get; set; } = "";

    /// <summary>When the account was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>The last successful sign-in (UTC), if any.</summary>
    public DateTime? LastSignInAt { get; set; }
}
