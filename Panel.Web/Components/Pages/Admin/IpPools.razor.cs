using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Admin;

/// <summary>Address pools with their use, a form that adds an IPv4 range to a node network, and a pool's addresses (paged in the database).</summary>
public sealed partial class IpPools
{
    private IReadOnlyList<IpPoolView>? pools;
    private List<(string Network, string Nodes)> networks = [];
    private IpPoolView? selected;
    private MudTable<IpAddressRow>? addressTable;
    private bool usedOnly;
    private string? network;
    private string? gateway;
    private string? first;
    private string? last;
    private string? name;
    private string? formError;
    private string? errorField;
    private bool saving;

    [Inject]
    private IpPoolService PoolService { get; set; } = default!;

    [Inject]
    private NodeService NodeService { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        var nodes = await NodeService.ListAsync(await CurrentActor.GetAsync());
        networks = nodes.Where(n => !string.IsNullOrEmpty(n.GuestNetworks.V4)).GroupBy(n => n.GuestNetworks.V4)
            .Select(g => (g.Key, string.Join(", ", g.Select(n => n.Name)))).ToList();
        await LoadAsync();
        if (networks.Count > 0)
        {
            NetworkChanged(networks[0].Network);
        }
    }

    private async Task LoadAsync() => pools = await PoolService.ListAsync(await CurrentActor.GetAsync());

    private void NetworkChanged(string? value)
    {
        network = value;
        gateway = pools?.FirstOrDefault(p => p.Network == value)?.Gateway ?? gateway;
    }

    private async Task AddAsync()
    {
        saving = true;
        try
        {
            var poolName = string.IsNullOrWhiteSpace(name) ? $"range-{first?.Trim()}-{last?.Trim()}" : name.Trim();
            await PoolService.CreateAsync(await CurrentActor.GetAsync(), poolName, network ?? "", gateway?.Trim() ?? "", first?.Trim() ?? "", last?.Trim() ?? "");
            Snackbar.Add($"Range {first}-{last} added as {poolName}.", Severity.Success);
            formError = errorField = null;
            first = last = name = null;
            await LoadAsync();
        }
        catch (PanelRefusedException ex)
        {
            formError = char.ToUpperInvariant(ex.Message[0]) + ex.Message[1..] + ".";
            errorField = ex.Field;
        }
        finally
        {
            saving = false;
        }
    }

    private async Task SelectAsync(IpPoolView pool)
    {
        selected = pool;
        StateHasChanged();
        if (addressTable is not null)
        {
            await addressTable.ReloadServerData();
        }
    }

    private async Task UsedOnlyChanged(bool value)
    {
        usedOnly = value;
        if (addressTable is not null)
        {
            await addressTable.ReloadServerData();
        }
    }

    private async Task<TableData<IpAddressRow>> LoadAddressesAsync(TableState state, CancellationToken cancellationToken)
    {
        if (selected is null)
        {
            return new TableData<IpAddressRow> { TotalItems = 0, Items = [] };
        }

        var (total, rows) = await PoolService.AddressesAsync(await CurrentActor.GetAsync(), selected.Id, usedOnly, state.Page * state.PageSize, state.PageSize, cancellationToken);
        return new TableData<IpAddressRow> { TotalItems = total, Items = rows };
    }
}
