using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Domain.Hosting;
using Panel.Core.Hosting;
using Panel.Core.Services;
using Panel.Web.Components.Account;
using Panel.Web.Components.Shared;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>Every tenant's websites (paged and filtered in the database) and the health of this process's edge.</summary>
public sealed partial class Sites : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private MudTable<SiteView>? table;
    private string? search;
    private SiteStatus? status;
    private EdgeHealth edge = EdgeStatus.NotRunning;

    [Inject]
    private HostingService Hosting { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        var actor = await CurrentActor.GetAsync();
        edge = Hosting.EdgeHealth(actor);
        if (RendererInfo.IsInteractive)
        {
            _ = LiveRefresh.RunAsync(TimeSpan.FromSeconds(5), _ => { edge = Hosting.EdgeHealth(actor); return Task.CompletedTask; }, () => InvokeAsync(StateHasChanged), stop.Token);
        }
    }

    private async Task<TableData<SiteView>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        var (total, rows) = await Hosting.SearchAsync(await CurrentActor.GetAsync(), new SiteQuery(search, status, state.Page * state.PageSize, state.PageSize), cancellationToken);
        return new TableData<SiteView> { TotalItems = total, Items = rows };
    }

    private Task ReloadAsync() => table?.ReloadServerData() ?? Task.CompletedTask;

    private async Task SuspendAsync(SiteView site)
    {
        await ChangeAsync(site, a => Hosting.SuspendAsync(a, site.Id, "suspended by an administrator"), "suspended");
    }

    private async Task UnsuspendAsync(SiteView site)
    {
        await ChangeAsync(site, a => Hosting.UnsuspendAsync(a, site.Id), "serves again");
    }

    private async Task ChangeAsync(SiteView site, Func<Actor, Task> change, string done)
    {
        try
        {
            await change(await CurrentActor.GetAsync());
            Snackbar.Add($"{site.Domain} {done}", Severity.Info);
        }
        catch (Exception ex) when (ex is PanelRefusedException or PanelNotFoundException)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }

        await ReloadAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        stop.Dispose();
    }
}
