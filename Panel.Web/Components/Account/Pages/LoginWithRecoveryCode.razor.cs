using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Identity;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;

namespace Panel.Web.Components.Account.Pages;

/// <summary>The second step of sign-in with a one-time recovery code instead of the authenticator.</summary>
public sealed partial class LoginWithRecoveryCode
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

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        Input ??= new();
        var pending = await SignInManager.GetTwoFactorAuthenticationUserAsync();
        if (pending is null)
        {
            RedirectManager.RedirectTo("/account/login");
            return;
        }

        user = pending;
    }

    private async Task SubmitAsync()
    {
        var code = Input.RecoveryCode.Replace(" ", "", StringComparison.Ordinal);
        var result = await SignInManager.TwoFactorRecoveryCodeSignInAsync(code);
        var actor = new Actor(user.Id, user.Email ?? "", IsAdmin: false, HttpContext.Connection.RemoteIpAddress?.ToString());
        if (result.Succeeded)
        {
            await Accounts.RecordSignInAsync(user, actor, "password + recovery code");
            RedirectManager.RedirectTo(ReturnUrl);
        }
        else if (result.IsLockedOut)
        {
            RedirectManager.RedirectTo("/account/lockout");
        }
        else
        {
            await Audit.RecordAsync(actor, AuditActions.SignInFailed, $"user:{user.Id}", "wrong recovery code");
            message = "Error: that recovery code is not valid (each code works only once).";
        }
    }

    private sealed class InputModel
    {
        [Required(ErrorMessage = "Enter a recovery code.")]
        public string RecoveryCode { get; set; } = "";
    }
}
