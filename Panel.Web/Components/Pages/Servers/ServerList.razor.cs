using Panel.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Servers;

/// <summary>The caller's servers, refreshed every few seconds.</summary>
public sealed partial class ServerList
{
    private readonly CancellationTokenSource stop = new();
    private IReadOnlyList<VpsView>? servers;

    [Inject]
    private VpsService Vpses { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        var actor = await CurrentActor.GetAsync();
        servers = await Vpses.ListAsync(actor);
        if (RendererInfo.IsInteractive)
        {
            _ = RefreshAsync(actor);
        }
    }

    private async Task RefreshAsync(Actor actor) =>
        await LiveRefresh.RunAsync(TimeSpan.FromSeconds(2), async ct => servers = await Vpses.ListAsync(actor, ct), () => InvokeAsync(StateHasChanged), stop.Token);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        stop.Dispose();
    }
}
