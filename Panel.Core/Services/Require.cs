namespace Panel.Core.Services;

/// <summary>Role checks every service call starts with.</summary>
internal static class Require
{
    /// <summary>Refuses anyone but an admin (or the system).</summary>
    public static void Admin(Actor actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (!actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only admins can do this.");
        }
    }

    /// <summary>Refuses anonymous callers.</summary>
    public static Guid User(Actor actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return actor.UserId ?? (actor.IsAdmin ? Guid.Empty : throw new UnauthorizedAccessException("Sign in first."));
    }

    /// <summary>Refuses anyone but the customer themself or an admin; to anyone else the customer does not exist.</summary>
    public static void SelfOrAdmin(Actor actor, Guid customerId)
    {
        var caller = User(actor);
        if (!actor.IsAdmin && caller != customerId)
        {
            throw new PanelNotFoundException("No such customer.");
        }
    }
}
