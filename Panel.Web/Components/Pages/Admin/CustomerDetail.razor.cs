using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>One customer: account facts, their servers (links to the server page), lock and unlock.</summary>
public sealed partial class CustomerDetail
{
    private CustomerAccount? detail;
    private bool notFound;

    /// <summary>The customer's user id.</summary>
    [Parameter]
    public Guid Id { get; set; }

    [Inject]
    private CustomerService CustomerService { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    /// <inheritdoc />
    protected override Task OnParametersSetAsync() => LoadAsync();

    private async Task LoadAsync()
    {
        try
        {
            detail = await CustomerService.GetAsync(await CurrentActor.GetAsync(), Id);
            notFound = false;
        }
        catch (PanelNotFoundException)
        {
            notFound = true;
        }
    }

    private async Task LockAsync()
    {
        if (await Dialogs.ShowMessageBoxAsync("Lock this account?", $"{detail!.Customer.Email} cannot sign in until an admin unlocks the account; open sessions end within minutes. Their servers keep running.", yesText: "Lock", cancelText: "Cancel") != true)
        {
            return;
        }

        await ChangeAsync(a => CustomerService.LockAsync(a, Id), "The account is locked.");
    }

    private Task UnlockAsync() => ChangeAsync(a => CustomerService.UnlockAsync(a, Id), "The account is unlocked.");

    private async Task ChangeAsync(Func<Actor, Task> change, string done)
    {
        try
        {
            await change(await CurrentActor.GetAsync());
            Snackbar.Add(done, Severity.Success);
        }
        catch (Exception ex) when (ex is PanelRefusedException or PanelNotFoundException)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }

        await LoadAsync();
    }
}
