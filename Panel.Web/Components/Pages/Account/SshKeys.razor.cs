using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Account;

/// <summary>The customer's saved SSH keys: add (checked by the service) and delete.</summary>
public sealed partial class SshKeys
{
    private IReadOnlyList<SshKeyView>? keys;
    private string? name;
    private string? publicKey;
    private string? error;
    private string? errorField;

    [Inject]
    private SshKeyService Keys { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync() => keys = await Keys.ListAsync(await CurrentActor.GetAsync());

    private async Task AddAsync()
    {
        error = errorField = null;
        try
        {
            var actor = await CurrentActor.GetAsync();
            var added = await Keys.AddAsync(actor, name ?? "", publicKey ?? "");
            Snackbar.Add($"Key {added.Name} added", Severity.Success);
            name = publicKey = null;
            keys = await Keys.ListAsync(actor);
        }
        catch (PanelRefusedException ex)
        {
            error = ex.Message;
            errorField = ex.Field ?? "PublicKey";
        }
    }

    private async Task DeleteAsync(SshKeyView key)
    {
        if (await Dialogs.ShowMessageBoxAsync($"Delete the key {key.Name}?", "Servers that have it keep it until you reset their access.", yesText: "Delete", cancelText: "Cancel") != true)
        {
            return;
        }

        var actor = await CurrentActor.GetAsync();
        try
        {
            await Keys.DeleteAsync(actor, key.Id);
            Snackbar.Add($"Key {key.Name} deleted", Severity.Info);
        }
        catch (PanelNotFoundException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }

        keys = await Keys.ListAsync(actor);
    }
}
