using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>Every operation, paged and filtered in the database; a click shows its steps.</summary>
public sealed partial class Operations
{
    private MudTable<AdminOperationRow>? table;
    private OperationStatus? status;
    private OperationKind? kind;
    private string? node;
    private bool failedFirst;
    private OperationView? open;
    private IReadOnlyList<string> nodeNames = [];

    [Inject]
    private VpsService Vpses { get; set; } = default!;

    [Inject]
    private NodeService Nodes { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    /// <summary>Start with the failed ones first (<c>?failed=true</c>, from the dashboard).</summary>
    [SupplyParameterFromQuery(Name = "failed")]
    public bool? FailedFirstQuery { get; set; }

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        failedFirst = FailedFirstQuery ?? false;
        nodeNames = (await Nodes.ListAsync(await CurrentActor.GetAsync())).Select(n => n.Name).ToList();
    }

    private static Color StatusColor(OperationStatus s) => s switch
    {
        OperationStatus.Failed => Color.Error,
        OperationStatus.Refused => Color.Warning,
        OperationStatus.Succeeded => Color.Success,
        _ => Color.Info,
    };

    private async Task<TableData<AdminOperationRow>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        var query = new OperationQuery(status, kind, node, failedFirst, state.Page * state.PageSize, state.PageSize);
        var (total, rows) = await Vpses.SearchOperationsAsync(await CurrentActor.GetAsync(), query, cancellationToken);
        return new TableData<AdminOperationRow> { TotalItems = total, Items = rows };
    }

    private async Task OpenAsync(AdminOperationRow row)
    {
        open = open?.Id == row.Id ? null : await Vpses.GetOperationAsync(await CurrentActor.GetAsync(), row.Id);
    }

    private Task ReloadAsync() => table?.ReloadServerData() ?? Task.CompletedTask;
}
