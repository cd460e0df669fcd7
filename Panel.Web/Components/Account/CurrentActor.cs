using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Panel.Core.Domain.Accounts;
using Panel.Core.Services;

namespace Panel.Web.Components.Account;

/// <summary>Turns the signed-in principal into the <see cref="Actor"/> that services check and audit.</summary>
public sealed class CurrentActor(AuthenticationStateProvider authState, IHttpContextAccessor http)
{
    /// <summary>The current actor (anonymous when nobody is signed in).</summary>
    public async Task<Actor> GetAsync()
    {
        var user = (await authState.GetAuthenticationStateAsync()).User;
        return From(user, http.HttpContext?.Connection.RemoteIpAddress?.ToString());
    }

    /// <summary>Builds an actor from a principal.</summary>
    public static Actor From(ClaimsPrincipal user, string? ip)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (user.Identity?.IsAuthenticated != true || !Guid.TryParse(user.FindFirstValue(ClaimTypes.NameIdentifier), out var id))
        {
            return Actor.Anonymous(ip);
        }

        return new Actor(id, user.Identity.Name ?? id.ToString(), user.IsInRole(Roles.Admin), ip);
    }
}
