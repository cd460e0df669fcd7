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

    private Task PayAsync() => RunAsync(async actor =>
    {
        await BillingService.PayFromCreditAsync(actor, Id);
        Snackbar.Add($"{invoice?.Number} is paid from your balance.", Severity.Success);
    });

    private Task PayByCardAsync() => RunAsync(async actor =>
    {
        var attempt = await PaymentService.PayAsync(actor, Id);
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
    });

    /// <summary>Runs a payment, shows a refusal as a warning, and reloads the invoice.</summary>
    private async Task RunAsync(Func<Actor, Task> pay)
    {
        busy = true;
        try
        {
            await pay(await CurrentActor.GetAsync());
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
