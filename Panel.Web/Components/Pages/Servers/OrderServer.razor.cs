using Microsoft.AspNetCore.Components;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Servers;

/// <summary>Ordering a VPS: plan, image, host name, access; then off to its page to watch it provision.</summary>
public sealed partial class OrderServer
{
    private IReadOnlyList<PlanView>? plans;
    private IReadOnlyList<ImageView>? images;
    private int planId;
    private int imageId;
    private string? hostname;
    private string? password;
    private string? sshKey;
    private IReadOnlyList<SshKeyView> savedKeys = [];
    private Dictionary<int, PlanPrices> prices = [];
    private string currency = SettingsService.DefaultCurrency;
    private int? savedKeyId;
    private string? error;
    private string? errorField;
    private bool ordering;

    [Inject]
    private CatalogService Catalog { get; set; } = default!;

    [Inject]
    private VpsService Vpses { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private SshKeyService SshKeys { get; set; } = default!;

    [Inject]
    private SettingsService Settings { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        var actor = await CurrentActor.GetAsync();
        plans = await Catalog.PlansAsync(actor);
        images = await Catalog.ImagesAsync(actor);
        savedKeys = await SshKeys.ListAsync(actor);
        currency = await Settings.GetCurrencyAsync();
        foreach (var plan in plans)
        {
            prices[plan.Id] = await Catalog.PricesAsync(actor, plan.Id);
        }

        planId = plans.Count > 0 ? plans[0].Id : 0;
        imageId = images.Count > 0 ? images[0].Id : 0;
    }

    private async Task OrderAsync()
    {
        ordering = true;
        error = errorField = null;
        try
        {
            var actor = await CurrentActor.GetAsync();
            var keys = new List<string>();
            if (savedKeyId is { } id)
            {
                keys.Add((await SshKeys.GetAsync(actor, id)).PublicKey);
            }

            if (!string.IsNullOrWhiteSpace(sshKey))
            {
                keys.Add(sshKey.Trim());
            }

            var accepted = await Vpses.CreateAsync(actor,
                new CreateVpsRequest(planId, imageId, hostname ?? "", string.IsNullOrEmpty(password) ? null : password, keys));
            Navigation.NavigateTo($"/servers/{accepted.VpsId}");
        }
        catch (PanelRefusedException ex)
        {
            error = ex.Message;
            errorField = ex.Field;
        }
        catch (PanelNotFoundException ex)
        {
            error = ex.Message; // a saved key deleted in another tab
            errorField = null;
        }
        finally
        {
            ordering = false;
        }
    }
}
