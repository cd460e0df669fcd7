using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Billing;

/// <summary>One invoice: lines, net, tax and gross, its PDF, and paying it from credit or by card (when a payment gateway is set up). Its owner and admins only.</summary>
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
    private PaymentService PaymentService { get; set; } = default!;

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

    private async Task PayByCardAsync()
    {
        busy = true;
        try
        {
            var attempt = await PaymentService.PayAsync(await CurrentActor.GetAsync(), Id);
            switch (attempt.Status)
            {
                case Panel.Core.Domain.Billing.PaymentAttemptStatus.Succeeded:
                    Snackbar.Add($"{invoice?.Number} is paid: {attempt.Amount:0.00} {attempt.Currency} charged.", Severity.Success);
                    break;
                case Panel.Core.Domain.Billing.PaymentAttemptStatus.Declined:
                    Snackbar.Add($"The payment was declined: {attempt.Message ?? "no reason given"}. Nothing was charged.", Severity.Error);
                    break;
                default:
                    Snackbar.Add("The payment is being processed; this invoice shows as paid once the provider confirms it.", Severity.Info);
                    break;
            }

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
