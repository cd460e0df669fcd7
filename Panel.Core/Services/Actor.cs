namespace Panel.Core.Services;

/// <summary>Who performs a use case: passed explicitly into services so they can check roles and audit.</summary>
/// <param name="UserId">The signed-in user's id, or null for the system and anonymous visitors.</param>
/// <param name="Name">Email of the user, or <c>system</c> / <c>anonymous</c>.</param>
/// <param name="IsAdmin">Whether the user holds the Admin role.</param>
/// <param name="IpAddress">The client address, when the call came over HTTP.</param>
public sealed record Actor(Guid? UserId, string Name, bool IsAdmin, string? IpAddress = null)
{
    /// <summary>The panel itself (jobs, start-up seeding).</summary>
    public static Actor System { get; } = new(null, "system", IsAdmin: true);

    /// <summary>A visitor who has not signed in.</summary>
    public static Actor Anonymous(string? ip = null) => new(null, "anonymous", IsAdmin: false, ip);
}
