using Panel.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages;

/// <summary>A customer's home: their servers with live status, open invoices, what to do next; admins are sent to the admin dashboard.</summary>
public sealed partial class Home : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private Actor actor = Actor.Anonymous();
    private CustomerOverview? overview;
    private IReadOnlyList<VpsView>? servers;
    private int keyCount;
    private BalanceView? balance;
    private IReadOnlyList<InvoiceView> openInvoices = [];

    [Inject]
    private DashboardService Dashboard { get; set; } = default!;

    [Inject]
    private VpsService Vpses { get; set; } = default!;

    [Inject]
    private BillingService Billing { get; set; } = default!;

    [Inject]
    private SshKeyService SshKeys { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    private int Running => servers?.Count(s => s.Status == VpsStatus.Running) ?? 0;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        actor = await CurrentActor.GetAsync();
        if (actor.IsAdmin)
        {
            Navigation.NavigateTo("/admin");
            return;
        }

        overview = await Dashboard.GetCustomerOverviewAsync(actor);
        servers = await Vpses.ListAsync(actor);
        keyCount = (await SshKeys.ListAsync(actor)).Count;
        if (actor.UserId is { } me)
        {
            balance = await Billing.BalanceAsync(actor, me);
            openInvoices = [.. (await Billing.InvoicesAsync(actor, me)).Where(i => i.Status == InvoiceStatus.Open).OrderBy(i => i.DueAt)];
        }

        if (RendererInfo.IsInteractive)
        {
            _ = RefreshAsync();
        }
    }

    /// <summary>Statuses change under the customer's eyes (provisioning, reboots): reload every few seconds.</summary>
    private async Task RefreshAsync() =>
        await LiveRefresh.RunAsync(TimeSpan.FromSeconds(3), async ct => servers = await Vpses.ListAsync(actor, ct), () => InvokeAsync(StateHasChanged), stop.Token);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        stop.Dispose();
    }
}
