using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Identity;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;

namespace Panel.Web.Components.Account.Pages;

/// <summary>The second step of sign-in for accounts with an authenticator app.</summary>
public sealed partial class LoginWith2fa
{
    private string? message;
    private PanelUser user = default!;

    [Inject]
    private SignInManager<PanelUser> SignInManager { get; set; } = default!;

    [Inject]
    private AuditLog Audit { get; set; } = default!;

    [Inject]
    private AccountService Accounts { get; set; } = default!;

    [Inject]
    private IdentityRedirectManager RedirectManager { get; set; } = default!;

    [CascadingParameter]
    private HttpContext HttpContext { get; set; } = default!;

    [SupplyParameterFromForm]
    private InputModel Input { get; set; } = default!;

    /// <summary>Where to go after signing in.</summary>
    [SupplyParameterFromQuery]
    private string? ReturnUrl { get; set; }

    /// <summary>Whether the first step asked for a persistent cookie.</summary>
    [SupplyParameterFromQuery]
    private bool RememberMe { get; set; }

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        Input ??= new();
        var pending = await SignInManager.GetTwoFactorAuthenticationUserAsync();
        if (pending is null)
        {
            // The password step was not done (or expired): start over.
            RedirectManager.RedirectTo("/account/login");
            return;
        }

        user = pending;
    }

    private async Task SubmitAsync()
    {
        var code = Input.TwoFactorCode.Replace(" ", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        var result = await SignInManager.TwoFactorAuthenticatorSignInAsync(code, RememberMe, Input.RememberMachine);
        var actor = new Actor(user.Id, user.Email ?? "", IsAdmin: false, HttpContext.Connection.RemoteIpAddress?.ToString());
        if (result.Succeeded)
        {
            await Accounts.RecordSignInAsync(user, actor, "password + authenticator");
            RedirectManager.RedirectTo(ReturnUrl);
        }
        else if (result.IsLockedOut)
        {
            await Audit.RecordAsync(actor, AuditActions.LockedOut, $"user:{user.Id}", "too many wrong authenticator codes");
            RedirectManager.RedirectTo("/account/lockout");
        }
        else
        {
            await Audit.RecordAsync(actor, AuditActions.SignInFailed, $"user:{user.Id}", "wrong authenticator code");
            message = "Error: that code is not right. Codes change every 30 seconds; try the current one.";
        }
    }

    private sealed class InputModel
    {
        [Required(ErrorMessage = "Enter the code.")]
        [StringLength(7, MinimumLength = 6, ErrorMessage = "The code has 6 digits.")]
        public string TwoFactorCode { get; set; } = "";

        public bool RememberMachine { get; set; }
    }
}
