using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>Installation settings admins change at run time.</summary>
public sealed partial class Settings
{
    private bool loaded;
    private bool saving;
    private bool signUpEnabled;

    [Inject]
    private SettingsService SettingsService { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        signUpEnabled = await SettingsService.IsSignUpEnabledAsync();
        loaded = true;
    }

    private async Task SaveAsync()
    {
        saving = true;
        try
        {
            await SettingsService.SetSignUpEnabledAsync(await CurrentActor.GetAsync(), signUpEnabled);
            Snackbar.Add("Settings saved.", Severity.Success);
        }
        catch (UnauthorizedAccessException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
        catch (Npgsql.NpgsqlException)
        {
            Snackbar.Add("The database did not answer; nothing was saved. Try again.", Severity.Error);
        }
        finally
        {
            saving = false;
        }
    }
}
