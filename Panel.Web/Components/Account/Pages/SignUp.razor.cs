using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.AspNetCore.Identity;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;

namespace Panel.Web.Components.Account.Pages;

/// <summary>Customer self-sign-up. Errors appear on the field they concern; nothing is created unless all is valid.</summary>
public sealed partial class SignUp
{
    private EditContext editContext = default!;
    private ValidationMessageStore messages = default!;
    private bool signUpEnabled;

    [Inject]
    private AccountService Accounts { get; set; } = default!;

    [Inject]
    private SettingsService Settings { get; set; } = default!;

    [Inject]
    private SignInManager<PanelUser> SignInManager { get; set; } = default!;

    [Inject]
    private AuditLog Audit { get; set; } = default!;

    [Inject]
    private IdentityRedirectManager RedirectManager { get; set; } = default!;

    [CascadingParameter]
    private HttpContext HttpContext { get; set; } = default!;

    [SupplyParameterFromForm]
    private InputModel Input { get; set; } = default!;

    /// <summary>Where to go after signing up (local paths only).</summary>
    [SupplyParameterFromQuery]
    private string? ReturnUrl { get; set; }

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        Input ??= new();
        editContext = new EditContext(Input);
        messages = new ValidationMessageStore(editContext);
        signUpEnabled = await Settings.IsSignUpEnabledAsync();
    }

    private async Task SignUpAsync()
    {
        messages.Clear();
        if (Input.Password != Input.ConfirmPassword)
        {
            messages.Add(() => Input.ConfirmPassword, "The two passwords differ.");
            editContext.NotifyValidationStateChanged();
            return;
        }

        var visitor = Actor.Anonymous(HttpContext.Connection.RemoteIpAddress?.ToString());
        var result = await Accounts.SignUpCustomerAsync(Input.Email, Input.Password, visitor);
        if (!result.Succeeded)
        {
            foreach (var (field, errors) in result.Errors)
            {
                var target = field switch
                {
                    AccountService.EmailField => editContext.Field(nameof(InputModel.Email)),
                    AccountService.PasswordField => editContext.Field(nameof(InputModel.Password)),
                    _ => editContext.Field(nameof(InputModel.Form)),
                };
                messages.Add(target, errors);
            }

            editContext.NotifyValidationStateChanged();
            return;
        }

        var user = result.User!;
        await SignInManager.SignInAsync(user, isPersistent: false);
        await Audit.RecordAsync(visitor with { UserId = user.Id, Name = user.Email! }, AuditActions.SignIn, $"user:{user.Id}", "after sign-up");
        RedirectManager.RedirectTo(ReturnUrl);
    }

    private sealed class InputModel
    {
        public string Form { get; set; } = "";

        public string Email { get; set; } = "";

        public string Password { get; set; } = "";

        public string ConfirmPassword { get; set; } = "";
    }
}
