using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Domain.Api;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Account;

/// <summary>A user's API tokens: make one (its secret is shown once), see when each was used, revoke.</summary>
public sealed partial class ApiTokens
{
    private static readonly int[] ExpiryChoices = [30, 90, 180, 365];
    private readonly HashSet<string> scopes = [ApiScopes.ServersRead];
    private IReadOnlyList<ApiTokenView>? tokens;
    private ApiTokenCreated? created;
    private string name = "";
    private int days = 90;
    private bool isAdmin;
    private bool adminToken;
    private bool busy;
    private string? error;

    [Inject]
    private ApiTokenService Tokens { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        isAdmin = (await CurrentActor.GetAsync()).IsAdmin;
        await LoadAsync();
    }

    private async Task LoadAsync() => tokens = await Tokens.ListAsync(await CurrentActor.GetAsync());

    private void Toggle(string scope, bool on)
    {
        if (on)
        {
            scopes.Add(scope);
        }
        else
        {
            scopes.Remove(scope);
        }
    }

    private void OnKindChanged()
    {
        if (!adminToken)
        {
            scopes.ExceptWith(ApiScopes.AdminOnly);
        }
    }

    private async Task CreateAsync()
    {
        busy = true;
        error = null;
        created = null;
        try
        {
            var expires = Clock.GetUtcNow().UtcDateTime.AddDays(days);
            created = await Tokens.CreateAsync(await CurrentActor.GetAsync(),
                new ApiTokenRequest(name, [.. scopes], expires, adminToken ? ApiTokenKind.Admin : ApiTokenKind.Personal));
            name = "";
            await LoadAsync();
        }
        catch (Exception ex) when (ex is PanelRefusedException or UnauthorizedAccessException)
        {
            error = ex.Message;
        }
        finally
        {
            busy = false;
        }
    }

    private async Task RevokeAsync(ApiTokenView token)
    {
        if (await Dialogs.ShowMessageBoxAsync("Revoke this token?", $"{token.Name} stops working at once; this cannot be undone.", yesText: "Revoke", cancelText: "Cancel") != true)
        {
            return;
        }

        try
        {
            await Tokens.RevokeAsync(await CurrentActor.GetAsync(), token.Id);
            Snackbar.Add($"{token.Name} is revoked.", Severity.Success);
        }
        catch (Exception ex) when (ex is PanelRefusedException or PanelNotFoundException)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }

        await LoadAsync();
    }

    private string StatusOf(ApiTokenView token)
        => token.RevokedAt is not null ? "Revoked" : token.ExpiresAt <= Clock.GetUtcNow().UtcDateTime ? "Expired" : "Active";
}
