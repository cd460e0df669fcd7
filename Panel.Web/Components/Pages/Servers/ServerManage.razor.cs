using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Shared;

namespace Panel.Web.Components.Pages.Servers;

/// <summary>Rename, change plan (with the new plan's price), reinstall and reset access of one server.</summary>
public sealed partial class ServerManage
{
    private readonly AccessFields.Values reinstallAccess = new();
    private readonly AccessFields.Values resetAccess = new();
    private IReadOnlyList<PlanView> planChoices = [];
    private IReadOnlyList<ImageView> images = [];
    private IReadOnlyList<SshKeyView> keys = [];
    private string currency = SettingsService.DefaultCurrency;
    private PlanView? chosenPlan;
    private PlanPrices? chosenPrices;
    private PlanPrices? currentPrices;
    private int reinstallImage;
    private string? newName;
    private string? renameError;
    private string? planError;
    private string? reinstallError;
    private string? accessError;
    private string? loadedFor;

    /// <summary>The server.</summary>
    [Parameter, EditorRequired]
    public VpsView Server { get; set; } = default!;

    /// <summary>Who is looking.</summary>
    [Parameter, EditorRequired]
    public Actor Actor { get; set; } = default!;

    /// <summary>Whether the server takes changes now (not busy, not deleted or suspended).</summary>
    [Parameter]
    public bool CanChange { get; set; }

    /// <summary>Raised after a change was accepted, so the page reloads.</summary>
    [Parameter]
    public EventCallback Changed { get; set; }

    [Inject]
    private VpsService Vpses { get; set; } = default!;

    [Inject]
    private CatalogService Catalog { get; set; } = default!;

    [Inject]
    private SettingsService Settings { get; set; } = default!;

    [Inject]
    private SshKeyService SshKeys { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        // The page passes a new view every second; the catalog is loaded once per plan the server has.
        var key = $"{Server.Id}/{Server.PlanName}";
        if (loadedFor == key)
        {
            return;
        }

        loadedFor = key;
        newName ??= Server.Hostname;
        var plans = await Catalog.PlansAsync(Actor);
        planChoices = plans.Where(p => p.Approach == Server.Approach && p.Name != Server.PlanName).ToList();
        images = await Catalog.ImagesAsync(Actor);
        keys = await SshKeys.ListAsync(Actor);
        currency = await Settings.GetCurrencyAsync();
        reinstallImage = reinstallImage != 0 ? reinstallImage : images.Count > 0 ? images[0].Id : 0;
        currentPrices = plans.FirstOrDefault(p => p.Name == Server.PlanName) is { } current ? await PricesAsync(current.Id) : null;
        chosenPlan = null;
        chosenPrices = null;
    }

    private async Task<PlanPrices?> PricesAsync(int planId)
    {
        try
        {
            return await Catalog.PricesAsync(Actor, planId);
        }
        catch (PanelNotFoundException)
        {
            return null; // a plan no longer on offer
        }
    }

    private async Task RenameAsync()
    {
        renameError = null;
        try
        {
            await Vpses.RenameAsync(Actor, Server.Id, newName ?? "");
            newName = newName!.Trim().ToLowerInvariant();
            Snackbar.Add($"Renamed to {newName}", Severity.Success);
            await Changed.InvokeAsync();
        }
        catch (PanelRefusedException ex)
        {
            renameError = ex.Message;
        }
    }

    private async Task ChoosePlanAsync(PlanView plan)
    {
        planError = null;
        chosenPlan = plan;
        chosenPrices = await PricesAsync(plan.Id);
    }

    private async Task ChangePlanAsync()
    {
        if (chosenPlan is not { } plan)
        {
            return;
        }

        planError = null;
        var price = chosenPrices is { } p ? $" It costs {Format.Price(p.MonthlyPrice, currency)} a month from now on." : "";
        if (await Dialogs.ShowMessageBoxAsync($"Change to {plan.Name}?", $"{Server.Hostname} gets {plan.Vcpus} vCPU, {Format.Bytes(plan.MemoryBytes)} memory and {Format.Bytes(plan.DiskBytes)} disk.{price}", yesText: "Change plan", cancelText: "Cancel") != true)
        {
            return;
        }

        await RequestAsync(() => Vpses.ResizeAsync(Actor, Server.Id, plan.Id), $"Change to {plan.Name} requested", e => planError = e);
    }

    private async Task ReinstallAsync()
    {
        reinstallError = null;
        var image = images.FirstOrDefault(i => i.Id == reinstallImage);
        if (image is null)
        {
            return;
        }

        if (reinstallAccess.IsEmpty)
        {
            reinstallError = "Give a root password or an SSH key, or you cannot sign in to the new system (except on the console).";
            return;
        }

        if (await Dialogs.ShowMessageBoxAsync($"Reinstall with {image.DisplayName}?", $"The disk of {Server.Hostname} is wiped: every file and snapshot is lost. Addresses, plan and name stay.", yesText: "Reinstall", cancelText: "Cancel") != true)
        {
            return;
        }

        await RequestAsync(async () => await Vpses.ReinstallAsync(Actor, Server.Id, image.Id, reinstallAccess.RootPassword, await reinstallAccess.KeysAsync(SshKeys, Actor)),
            $"Reinstall with {image.DisplayName} requested", e => reinstallError = e);
        if (reinstallError is null)
        {
            reinstallAccess.Clear();
        }
    }

    private async Task ResetAccessAsync()
    {
        accessError = null;
        if (resetAccess.IsEmpty)
        {
            accessError = "Give a new root password, an SSH key, or both.";
            return;
        }

        if (await Dialogs.ShowMessageBoxAsync("Reset access?", $"Root's password and SSH keys on {Server.Hostname} are replaced by what you gave; what you left empty is cleared.", yesText: "Reset", cancelText: "Cancel") != true)
        {
            return;
        }

        await RequestAsync(async () => await Vpses.ResetAccessAsync(Actor, Server.Id, resetAccess.RootPassword, await resetAccess.KeysAsync(SshKeys, Actor)),
            "Access reset requested", e => accessError = e);
        if (accessError is null)
        {
            resetAccess.Clear();
        }
    }

    private async Task RequestAsync(Func<Task<long>> request, string accepted, Action<string> refused)
    {
        try
        {
            await request();
            Snackbar.Add(accepted, Severity.Info);
            await Changed.InvokeAsync();
        }
        catch (PanelRefusedException ex)
        {
            refused(ex.Message);
        }
        catch (PanelNotFoundException ex)
        {
            refused(ex.Message);
        }
    }
}
