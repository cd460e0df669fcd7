using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>The catalog's images, which nodes have them, and the switch that offers them for ordering.</summary>
public sealed partial class Images
{
    private IReadOnlyList<ImageAdminView>? images;

    [Inject]
    private CatalogService Catalog { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <inheritdoc />
    protected override Task OnInitializedAsync() => LoadAsync();

    private async Task LoadAsync() => images = await Catalog.AdminImagesAsync(await CurrentActor.GetAsync());

    private async Task SetAsync(ImageAdminView image, bool active)
    {
        try
        {
            await Catalog.SetImageActiveAsync(await CurrentActor.GetAsync(), image.Image.Id, active);
            Snackbar.Add(active ? $"{image.Image.DisplayName} can be ordered." : $"{image.Image.DisplayName} is no longer offered.", Severity.Success);
        }
        catch (PanelNotFoundException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }

        await LoadAsync();
    }
}
