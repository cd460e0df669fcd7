using Panel.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>The nodes with their allocation against capacity, drivers and maintenance switch; refreshed every few seconds.</summary>
public sealed partial class Nodes
{
    private readonly CancellationTokenSource stop = new();
    private IReadOnlyList<NodeView>? nodes;
    private string? error;
    private Actor actor = Actor.Anonymous();

    [Inject]
    private NodeService NodeService { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        actor = await CurrentActor.GetAsync();
        await LoadAsync();
        if (RendererInfo.IsInteractive)
        {
            _ = RefreshAsync();
        }
    }

    private async Task LoadAsync()
    {
        try
        {
            nodes = await NodeService.ListAsync(actor, stop.Token);
            error = null;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            error = "The database did not answer; showing the last figures.";
        }
    }

    private async Task RefreshAsync() =>
        await LiveRefresh.RunAsync(TimeSpan.FromSeconds(3), _ => LoadAsync(), () => InvokeAsync(StateHasChanged), stop.Token);

    private async Task ToggleAsync(NodeView node)
    {
        await NodeService.SetMaintenanceAsync(actor, node.Name, !node.Maintenance);
        Snackbar.Add(node.Maintenance ? $"{node.Name} is back in service." : $"{node.Name} is drained: it takes no new servers.", Severity.Success);
        await LoadAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        stop.Dispose();
    }
}
