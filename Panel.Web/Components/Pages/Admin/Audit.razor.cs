using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>The whole audit log, paged and searched in the database.</summary>
public sealed partial class Audit
{
    private MudTable<AuditEvent>? table;
    private string? search;

    [Inject]
    private AuditLog Log { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    private async Task<TableData<AuditEvent>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        var (total, rows) = await Log.SearchAsync(await CurrentActor.GetAsync(), search, state.Page * state.PageSize, state.PageSize, cancellationToken);
        return new TableData<AuditEvent> { TotalItems = total, Items = rows };
    }

    private Task ReloadAsync() => table?.ReloadServerData() ?? Task.CompletedTask;
}
