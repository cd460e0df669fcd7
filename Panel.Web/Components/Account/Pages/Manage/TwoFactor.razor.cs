using Panel.Core.Domain.Audit;

namespace Panel.Web.Components.Account.Pages.Manage;

/// <summary>Two-factor status, new recovery codes, turning it off and resetting the key.</summary>
public sealed partial class TwoFactor
{
    private bool enabled;
    private int codesLeft;
    private string[]? recoveryCodes;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        var user = await LoadUserAsync();
        if (user is null)
        {
            return;
        }

        enabled = await UserManager.GetTwoFactorEnabledAsync(user);
        codesLeft = enabled ? await UserManager.CountRecoveryCodesAsync(user) : 0;
    }

    private async Task NewCodesAsync()
    {
        if (CurrentUser is null || !enabled)
        {
            return;
        }

        recoveryCodes = (await UserManager.GenerateNewTwoFactorRecoveryCodesAsync(CurrentUser, 10))?.ToArray() ?? [];
        await Audit.RecordAsync(Actor, AuditActions.TwoFactorChanged, $"user:{CurrentUser.Id}", "new recovery codes");
    }

    private async Task DisableAsync()
    {
        if (CurrentUser is null)
        {
            return;
        }

        await UserManager.SetTwoFactorEnabledAsync(CurrentUser, false);
        await SignInManager.RefreshSignInAsync(CurrentUser);
        await Audit.RecordAsync(Actor, AuditActions.TwoFactorChanged, $"user:{CurrentUser.Id}", "turned off");
        RedirectManager.RedirectToCurrentPageWithStatus("Two-factor authentication is off. You can turn it on again at any time.", HttpContext);
    }

    private async Task ResetAsync()
    {
        if (CurrentUser is null)
        {
            return;
        }

        await UserManager.SetTwoFactorEnabledAsync(CurrentUser, false);
        await UserManager.ResetAuthenticatorKeyAsync(CurrentUser);
        await SignInManager.RefreshSignInAsync(CurrentUser);
        await Audit.RecordAsync(Actor, AuditActions.TwoFactorChanged, $"user:{CurrentUser.Id}", "authenticator key reset");
        RedirectManager.RedirectToWithStatus("/account/manage/enable-authenticator", "The old key no longer works. Set up your app with the new key.", HttpContext);
    }
}
