using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>Customer accounts, searched and paged in the database.</summary>
public sealed partial class Customers
{
    private MudTable<CustomerRow>? table;
    private string? search;

    [Inject]
    private CustomerService CustomerService { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    private async Task<TableData<CustomerRow>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        var (total, rows) = await CustomerService.SearchAsync(await CurrentActor.GetAsync(), search, state.Page * state.PageSize, state.PageSize, cancellationToken);
        return new TableData<CustomerRow> { TotalItems = total, Items = rows };
    }

    private Task ReloadAsync() => table?.ReloadServerData() ?? Task.CompletedTask;
}
