using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Domain.Compute;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>Every customer's servers: paged, filtered and sorted by the database (fast with tens of thousands of rows).</summary>
public sealed partial class Servers
{
    private MudTable<AdminVpsRow>? table;
    private string? search;
    private VpsStatus? status;
    private string? node;
    private IReadOnlyList<string> nodeNames = [];

    [Inject]
    private VpsService Vpses { get; set; } = default!;

    [Inject]
    private NodeService Nodes { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
        => nodeNames = (await Nodes.ListAsync(await CurrentActor.GetAsync())).Select(n => n.Name).ToList();

    private async Task<TableData<AdminVpsRow>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        var sort = Enum.TryParse<VpsSort>(state.SortLabel, out var s) ? s : VpsSort.Newest;
        var query = new VpsQuery(search, status, node, sort, state.SortDirection == SortDirection.Descending, state.Page * state.PageSize, state.PageSize);
        var (total, rows) = await Vpses.SearchAsync(await CurrentActor.GetAsync(), query, cancellationToken);
        return new TableData<AdminVpsRow> { TotalItems = total, Items = rows };
    }

    private Task ReloadAsync() => table?.ReloadServerData() ?? Task.CompletedTask;
}
