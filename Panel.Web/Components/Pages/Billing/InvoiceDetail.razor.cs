using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Billing;

/// <summary>One invoice: lines, net, tax and gross, its PDF, and paying it from credit. Its owner and admins only.</summary>
public sealed partial class InvoiceDetail
{
    private InvoiceView? invoice;
    private BalanceView? balance;
    private IReadOnlyList<CreditNoteView> creditNotes = [];
    private bool notFound, busy;

    /// <summary>The invoice's id (from the route).</summary>
    [Parameter]
    public long Id { get; set; }

    [Inject]
    private BillingService BillingService { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync() => await LoadAsync();

    private async Task LoadAsync()
    {
        var actor = await CurrentActor.GetAsync();
        try
        {
            invoice = await BillingService.InvoiceAsync(actor, Id);
            balance = await BillingService.BalanceAsync(actor, invoice.CustomerId);
            creditNotes = await BillingService.CreditNotesAsync(actor, invoice.CustomerId, Id);
        }
        catch (PanelNotFoundException)
        {
            notFound = true;
        }
    }

    private async Task PayAsync()
    {
        busy = true;
        try
        {
            await BillingService.PayFromCreditAsync(await CurrentActor.GetAsync(), Id);
            Snackbar.Add($"{invoice?.Number} is paid from your balance.", Severity.Success);
            await LoadAsync();
        }
        catch (PanelRefusedException ex)
        {
            Snackbar.Add(ex.Message, Severity.Warning);
        }
        catch (PanelNotFoundException)
        {
            notFound = true;
        }
        finally
        {
            busy = false;
        }
    }
}
