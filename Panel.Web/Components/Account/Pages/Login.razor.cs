using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Identity;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;

namespace Panel.Web.Components.Account.Pages;

/// <summary>Password sign-in, with lockout after five failures and a hand-off to two-factor when it is on.</summary>
public sealed partial class Login
{
    private string? errorMessage;
    private bool signUpEnabled;

    [Inject]
    private SignInManager<PanelUser> SignInManager { get; set; } = default!;

    [Inject]
    private UserManager<PanelUser> UserManager { get; set; } = default!;

    [Inject]
    private SettingsService Settings { get; set; } = default!;

    [Inject]
    private AuditLog Audit { get; set; } = default!;

    [Inject]
    private AccountService Accounts { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IdentityRedirectManager RedirectManager { get; set; } = default!;

    [CascadingParameter]
    private HttpContext HttpContext { get; set; } = default!;

    [SupplyParameterFromForm]
    private InputModel Input { get; set; } = default!;

    /// <summary>Where to go after signing in (local paths only).</summary>
    [SupplyParameterFromQuery]
    private string? ReturnUrl { get; set; }

    private string SignUpUrl => Navigation.GetUriWithQueryParameters("/account/signup", new Dictionary<string, object?> { ["returnUrl"] = ReturnUrl });

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        Input ??= new();
        signUpEnabled = await Settings.IsSignUpEnabledAsync();
        if (HttpMethods.IsGet(HttpContext.Request.Method))
        {
            await HttpContext.SignOutAsync(IdentityConstants.ExternalScheme);
        }
    }

    private async Task LoginAsync()
    {
        var ip = HttpContext.Connection.RemoteIpAddress?.ToString();
        var email = Input.Email.Trim();
        var user = await UserManager.FindByEmailAsync(email);
        var result = await SignInManager.PasswordSignInAsync(user?.UserName ?? email, Input.Password, Input.RememberMe, lockoutOnFailure: true);
        var actor = new Actor(user?.Id, email, IsAdmin: false, ip);

        if (result.Succeeded)
        {
            await Accounts.RecordSignInAsync(user!, actor, "password");
            RedirectManager.RedirectTo(ReturnUrl);
        }
        else if (result.RequiresTwoFactor)
        {
            RedirectManager.RedirectTo("/account/login-2fa", new() { ["returnUrl"] = ReturnUrl, ["rememberMe"] = Input.RememberMe });
        }
        else if (result.IsLockedOut)
        {
            await Audit.RecordAsync(actor, AuditActions.LockedOut, user is null ? null : $"user:{user.Id}", "too many failed sign-in attempts");
            RedirectManager.RedirectTo("/account/lockout");
        }
        else
        {
            await Audit.RecordAsync(actor, AuditActions.SignInFailed, user is null ? null : $"user:{user.Id}", user is null ? "unknown email" : "wrong password");
            errorMessage = "Error: wrong email or password. After 5 failed attempts the account is locked for 15 minutes.";
        }
    }

    private sealed class InputModel
    {
        [Required(ErrorMessage = "Enter your email.")]
        public string Email { get; set; } = "";

        [Required(ErrorMessage = "Enter your password.")]
        public string Password { get; set; } = "";

        public bool RememberMe { get; set; }
    }
}
