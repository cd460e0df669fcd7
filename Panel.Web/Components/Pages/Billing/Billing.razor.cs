using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Billing;

/// <summary>The customer's billing: invoices, balance and ledger, this period's usage, billing profile and coupons.</summary>
public sealed partial class Billing
{
    private MudTable<InvoiceRow>? invoiceTable;
    private BalanceView? balance;
    private UsageView? usage;
    private IReadOnlyList<RedemptionView> redemptions = [];
    private string? legalName, address, country, vatNumber, couponCode;
    private bool isBusiness;

    [Inject]
    private BillingService BillingService { get; set; } = default!;

    [Inject]
    private TaxService Taxes { get; set; } = default!;

    [Inject]
    private CouponService Coupons { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    private string Currency => balance?.Currency ?? "";

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        var actor = await CurrentActor.GetAsync();
        if (actor.UserId is not { } me)
        {
            return;
        }

        balance = await BillingService.BalanceAsync(actor, me);
        usage = await BillingService.UsageAsync(actor, me);
        var profile = await Taxes.ProfileAsync(actor, me);
        (legalName, address, country, isBusiness, vatNumber) = (profile.LegalName, profile.Address, profile.Country, profile.IsBusiness, profile.VatNumber);
        redemptions = await Coupons.RedemptionsAsync(actor, me);
    }

    private async Task<TableData<InvoiceRow>> LoadInvoicesAsync(TableState state, CancellationToken cancellationToken)
    {
        var (total, rows) = await BillingService.InvoicePageAsync(await CurrentActor.GetAsync(), new InvoiceQuery(Skip: state.Page * state.PageSize, Take: state.PageSize), cancellationToken);
        return new TableData<InvoiceRow> { TotalItems = total, Items = rows };
    }

    private async Task<TableData<LedgerEntryView>> LoadLedgerAsync(TableState state, CancellationToken cancellationToken)
    {
        var actor = await CurrentActor.GetAsync();
        if (actor.UserId is not { } me)
        {
            return new TableData<LedgerEntryView> { TotalItems = 0, Items = [] };
        }

        var (total, rows) = await BillingService.LedgerPageAsync(actor, me, state.Page * state.PageSize, state.PageSize, cancellationToken);
        return new TableData<LedgerEntryView> { TotalItems = total, Items = rows };
    }

    private async Task SaveProfileAsync()
    {
        var actor = await CurrentActor.GetAsync();
        await RunAsync(async () =>
        {
            var saved = await Taxes.SetProfileAsync(actor, actor.UserId!.Value, new BillingProfile(legalName, address, country, isBusiness, isBusiness ? vatNumber : null));
            (country, vatNumber) = (saved.Country, saved.VatNumber);
            Snackbar.Add("Billing profile saved.", Severity.Success);
        });
    }

    private async Task RedeemAsync()
    {
        var actor = await CurrentActor.GetAsync();
        await RunAsync(async () =>
        {
            var redeemed = await Coupons.RedeemAsync(actor, couponCode ?? "");
            redemptions = await Coupons.RedemptionsAsync(actor, actor.UserId!.Value);
            couponCode = null;
            Snackbar.Add($"Coupon {redeemed.Code} redeemed: your next invoice gets the discount.", Severity.Success);
        });
    }

    private async Task RunAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (PanelRefusedException ex)
        {
            Snackbar.Add(ex.Message, Severity.Warning);
        }
        catch (Npgsql.NpgsqlException)
        {
            Snackbar.Add("The database did not answer; nothing was saved. Try again.", Severity.Error);
        }
    }
}
