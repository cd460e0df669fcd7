using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>What dunning does: reminders before and after the due date, suspension and termination days, the on/off switch.</summary>
public sealed partial class Dunning
{
    private bool loaded;
    private bool saving;
    private bool enabled;
    private string remindBefore = "";
    private string remindAfter = "";
    private int suspendAfter;
    private int terminateAfter;
    private string? error;
    private string? errorField;

    [Inject]
    private SettingsService SettingsService { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        var settings = await SettingsService.GetDunningAsync();
        enabled = settings.Enabled;
        remindBefore = string.Join(", ", settings.RemindBeforeDays);
        remindAfter = string.Join(", ", settings.RemindAfterDays);
        suspendAfter = settings.SuspendAfterDays;
        terminateAfter = settings.TerminateAfterDays;
        loaded = true;
    }

    private async Task SaveAsync()
    {
        saving = true;
        (error, errorField) = (null, null);
        try
        {
            var settings = new DunningSettings(enabled, SettingsService.ParseDays(remindBefore, "RemindBeforeDays"), SettingsService.ParseDays(remindAfter, "RemindAfterDays"),
                suspendAfter, terminateAfter);
            await SettingsService.SetDunningAsync(await CurrentActor.GetAsync(), settings);
            Snackbar.Add("Dunning settings saved.", Severity.Success);
        }
        catch (PanelRefusedException ex)
        {
            (error, errorField) = (ex.Message, ex.Field);
        }
        catch (UnauthorizedAccessException ex)
        {
            error = ex.Message;
        }
        catch (Npgsql.NpgsqlException)
        {
            error = "The database did not answer; nothing was saved. Try again.";
        }
        finally
        {
            saving = false;
        }
    }
}
