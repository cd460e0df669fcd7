using System.Globalization;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;
using Panel.Web.Components.Account;
using Panel.Web.Components.Shared;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>Billing for admins: every invoice (filter, payments, credit notes), top-ups, tax rates and the seller, coupons, revenue per month.</summary>
public sealed partial class AdminBilling
{
    private MudTable<InvoiceRow>? invoiceTable;
    private MudTable<CouponView>? couponTable;
    private InvoiceRow? selected;
    private string? search;
    private InvoiceStatus? status;
    private string? paymentAmount, paymentReference, creditAmount, creditReason;
    private string? topUpEmail, topUpAmount, topUpReference;
    private string? rateCountry, rateLabel, ratePercent;
    private string? sellerName, sellerCountry, sellerAddress, sellerVat;
    private string? couponCode, couponValue;
    private CouponKind couponKind = CouponKind.Percent;
    private DateTime? couponFrom = DateTime.UtcNow.Date, couponUntil;
    private int? couponMax;
    private IReadOnlyList<TaxRateView> rates = [];
    private IReadOnlyList<RevenueMonth> revenue = [];
    private string currency = "";

    [Inject]
    private BillingService BillingService { get; set; } = default!;

    [Inject]
    private TaxService Taxes { get; set; } = default!;

    [Inject]
    private CouponService Coupons { get; set; } = default!;

    [Inject]
    private SettingsService Settings { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        var actor = await CurrentActor.GetAsync();
        currency = await Settings.GetCurrencyAsync();
        rates = await Taxes.RatesAsync(actor);
        revenue = await BillingService.RevenueAsync(actor);
        var seller = await Taxes.SellerAsync();
        (sellerName, sellerCountry, sellerAddress, sellerVat) = (seller.Name, seller.Country, seller.Address, seller.VatNumber);
    }

    private async Task<TableData<InvoiceRow>> LoadInvoicesAsync(TableState state, CancellationToken cancellationToken)
    {
        var query = new InvoiceQuery(null, status, search, state.Page * state.PageSize, state.PageSize);
        var (total, rows) = await BillingService.InvoicePageAsync(await CurrentActor.GetAsync(), query, cancellationToken);
        return new TableData<InvoiceRow> { TotalItems = total, Items = rows };
    }

    private async Task<TableData<CouponView>> LoadCouponsAsync(TableState state, CancellationToken cancellationToken)
    {
        var (total, rows) = await Coupons.ListAsync(await CurrentActor.GetAsync(), state.Page * state.PageSize, state.PageSize, cancellationToken);
        return new TableData<CouponView> { TotalItems = total, Items = rows };
    }

    private Task ReloadAsync() => invoiceTable?.ReloadServerData() ?? Task.CompletedTask;

    private void Select(InvoiceRow? row)
    {
        selected = row;
        (paymentAmount, paymentReference, creditAmount, creditReason) = (row?.Total.ToString("0.00", CultureInfo.InvariantCulture), null, null, null);
    }

    private Task RecordPaymentAsync() => RunAsync(async actor =>
    {
        var result = await BillingService.RecordPaymentAsync(actor, selected!.Id, Money.ParseAmount(paymentAmount), paymentReference);
        Snackbar.Add(result.InvoicePaid ? $"{selected.Number} is paid." : $"Payment recorded; {selected.Number} waits for the rest.", Severity.Success);
        await AfterInvoiceChangeAsync(actor);
    });

    private Task CreditNoteAsync() => RunAsync(async actor =>
    {
        var note = await BillingService.IssueCreditNoteAsync(actor, selected!.Id, Money.ParseAmount(creditAmount), creditReason ?? "");
        Snackbar.Add($"Credit note {note.Number} issued for {note.InvoiceNumber}.", Severity.Success);
        await AfterInvoiceChangeAsync(actor);
    });

    private Task TopUpAsync() => RunAsync(async actor =>
    {
        var customer = await BillingService.CustomerByEmailAsync(actor, topUpEmail ?? "");
        var balance = await BillingService.TopUpAsync(actor, customer, Money.ParseAmount(topUpAmount), topUpReference);
        Snackbar.Add($"Balance of {topUpEmail} is now {Format.Money(balance.Balance, balance.Currency)}.", Severity.Success);
        (topUpAmount, topUpReference) = (null, null);
        await AfterInvoiceChangeAsync(actor);
    });

    private Task SetRateAsync() => RunAsync(async actor =>
    {
        if (!decimal.TryParse((ratePercent ?? "").Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var rate))
        {
            throw new PanelRefusedException($"'{ratePercent}' is not a rate; write it like 19 or 7.5.", "Rate");
        }

        var set = await Taxes.SetRateAsync(actor, rateCountry ?? "", rate, rateLabel);
        Snackbar.Add(string.Create(CultureInfo.InvariantCulture, $"{set.Country}: {set.Label} {set.RatePercent:0.00} %."), Severity.Success);
        rates = await Taxes.RatesAsync(actor);
        (rateCountry, ratePercent, rateLabel) = (null, null, null);
    });

    private Task RemoveRateAsync(string country) => RunAsync(async actor =>
    {
        await Taxes.RemoveRateAsync(actor, country);
        rates = await Taxes.RatesAsync(actor);
    });

    private Task SaveSellerAsync() => RunAsync(async actor =>
    {
        await Taxes.SetSellerAsync(actor, new SellerDetails(sellerCountry, sellerName, sellerAddress, sellerVat));
        Snackbar.Add("Seller saved.", Severity.Success);
    });

    private Task CreateCouponAsync() => RunAsync(async actor =>
    {
        var kind = couponKind;
        var value = kind == CouponKind.Percent && decimal.TryParse((couponValue ?? "").Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var pct)
            ? pct
            : kind == CouponKind.Percent ? throw new PanelRefusedException($"'{couponValue}' is not a percentage.", "Value") : Money.ParseAmount(couponValue, "Value");
        DateTime? from = couponFrom is { } f ? DateTime.SpecifyKind(f.Date, DateTimeKind.Utc) : null;
        DateTime? until = couponUntil is { } u ? DateTime.SpecifyKind(u.Date, DateTimeKind.Utc) : null;
        var coupon = await Coupons.CreateAsync(actor, new CouponDraft(couponCode ?? "", kind, value, from, until, couponMax));
        Snackbar.Add($"Coupon {coupon.Code} created.", Severity.Success);
        (couponCode, couponValue, couponMax) = (null, null, null);
        if (couponTable is not null)
        {
            await couponTable.ReloadServerData();
        }
    });

    private async Task AfterInvoiceChangeAsync(Actor actor)
    {
        selected = null;
        revenue = await BillingService.RevenueAsync(actor);
        await ReloadAsync();
    }

    private async Task RunAsync(Func<Actor, Task> action)
    {
        try
        {
            await action(await CurrentActor.GetAsync());
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
