using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Account;

/// <summary>The signed-in user's own audit entries, paged in the database.</summary>
public sealed partial class Activity
{
    [Inject]
    private AuditLog Log { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    private async Task<TableData<AuditEvent>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        var (total, rows) = await Log.MineAsync(await CurrentActor.GetAsync(), state.Page * state.PageSize, state.PageSize, cancellationToken);
        return new TableData<AuditEvent> { TotalItems = total, Items = rows };
    }
}
