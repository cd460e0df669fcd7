using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Identity;
using Panel.Core.Domain.Accounts;
using Panel.Core.Services;

namespace Panel.Web.Components.Account;

/// <summary>Shared plumbing of the static "manage my account" pages: the request, the user, redirects and auditing.</summary>
public abstract class ManagePageBase : ComponentBase
{
    /// <summary>The request (these pages render statically).</summary>
    [CascadingParameter]
    protected HttpContext HttpContext { get; set; } = default!;

    /// <summary>Identity's user manager.</summary>
    [Inject]
    protected UserManager<PanelUser> UserManager { get; set; } = default!;

    /// <summary>Identity's sign-in manager.</summary>
    [Inject]
    protected SignInManager<PanelUser> SignInManager { get; set; } = default!;

    /// <summary>The audit log.</summary>
    [Inject]
    protected AuditLog Audit { get; set; } = default!;

    [Inject]
    internal IdentityRedirectManager RedirectManager { get; set; } = default!;

    /// <summary>The signed-in user, loaded by <see cref="LoadUserAsync"/>.</summary>
    protected PanelUser? CurrentUser { get; private set; }

    /// <summary>The actor for services and audit.</summary>
    protected Actor Actor => CurrentActor.From(HttpContext.User, HttpContext.Connection.RemoteIpAddress?.ToString());

    /// <summary>Loads the signed-in user, or signs out and goes to the sign-in page when the account is gone.</summary>
    protected async Task<PanelUser?> LoadUserAsync()
    {
        CurrentUser = await UserManager.GetUserAsync(HttpContext.User);
        if (CurrentUser is null)
        {
            await SignInManager.SignOutAsync();
            RedirectManager.RedirectToWithStatus("/account/login", "Error: your account no longer exists.", HttpContext);
        }

        return CurrentUser;
    }
}
