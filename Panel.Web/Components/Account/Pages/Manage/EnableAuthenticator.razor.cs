using System.ComponentModel.DataAnnotations;
using System.Text;
using Microsoft.AspNetCore.Components;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;

namespace Panel.Web.Components.Account.Pages.Manage;

/// <summary>Shows the TOTP key, verifies a first code, turns two-factor on and shows the recovery codes once.</summary>
public sealed partial class EnableAuthenticator
{
    private string? message;
    private string? sharedKey;
    private string? authenticatorUri;
    private string[]? recoveryCodes;

    [SupplyParameterFromForm]
    private InputModel Input { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        Input ??= new();
        var user = await LoadUserAsync();
        if (user is not null)
        {
            await LoadKeyAsync(user);
        }
    }

    private async Task VerifyAsync()
    {
        if (CurrentUser is null)
        {
            return;
        }

        var code = Input.Code.Replace(" ", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        var valid = await UserManager.VerifyTwoFactorTokenAsync(CurrentUser, UserManager.Options.Tokens.AuthenticatorTokenProvider, code);
        if (!valid)
        {
            message = "Error: that code is not right. Check the key in your app and use the current code.";
            return;
        }

        await UserManager.SetTwoFactorEnabledAsync(CurrentUser, true);
        await Audit.RecordAsync(Actor, AuditActions.TwoFactorChanged, $"user:{CurrentUser.Id}", "turned on");
        message = "Two-factor authentication is on.";
        recoveryCodes = (await UserManager.GenerateNewTwoFactorRecoveryCodesAsync(CurrentUser, 10))?.ToArray() ?? [];
    }

    private async Task LoadKeyAsync(PanelUser user)
    {
        var key = await UserManager.GetAuthenticatorKeyAsync(user);
        if (string.IsNullOrEmpty(key))
        {
            await UserManager.ResetAuthenticatorKeyAsync(user);
            key = await UserManager.GetAuthenticatorKeyAsync(user);
        }

        sharedKey = FormatKey(key!);
        var issuer = Uri.EscapeDataString("VpsPanel");
        authenticatorUri = $"otpauth://totp/{issuer}:{Uri.EscapeDataString(user.Email!)}?secret={key}&issuer={issuer}&digits=6";
    }

    private static string FormatKey(string key)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < key.Length; i += 4)
        {
            sb.Append(key.AsSpan(i, Math.Min(4, key.Length - i))).Append(' ');
        }

        return sb.ToString().TrimEnd().ToLowerInvariant();
    }

    private sealed class InputModel
    {
        [Required(ErrorMessage = "Enter the code from your app.")]
        [StringLength(7, MinimumLength = 6, ErrorMessage = "The code has 6 digits.")]
        public string Code { get; set; } = "";
    }
}
