using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;

namespace Panel.Web.Components.Account;

/// <summary>Account endpoints that are not pages: sign-out.</summary>
internal static class AccountEndpoints
{
    public static IEndpointConventionBuilder MapAccountEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/account");
        group.MapPost("/logout", async (HttpContext http, [FromServices] SignInManager<PanelUser> signIn, [FromServices] AuditLog audit, [FromForm] string? returnUrl) =>
        {
            var actor = CurrentActor.From(http.User, http.Connection.RemoteIpAddress?.ToString());
            await signIn.SignOutAsync();
            if (actor.UserId is not null)
            {
                await audit.RecordAsync(actor, AuditActions.SignOut, $"user:{actor.UserId}");
            }

            return TypedResults.LocalRedirect("/account/login");
        });
        return group;
    }
}
