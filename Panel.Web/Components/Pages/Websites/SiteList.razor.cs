using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;
using Panel.Core.Domain.Hosting;
using Panel.Core.Services;
using Panel.Web.Components.Account;
using Panel.Web.Components.Shared;

namespace Panel.Web.Components.Pages.Websites;

/// <summary>The caller's websites (refreshed every few seconds), their hosting space, and the form to add one.</summary>
public sealed partial class SiteList : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private Actor actor = Actor.Anonymous();
    private IReadOnlyList<SiteView>? sites;
    private IReadOnlyList<HostingPlanView> plans = [];
    private HostingSpaceView? space;
    private string? domain;
    private string? aliases;
    private int? planId;
    private string? error;
    private string? errorField;
    private bool adding;
    private SiteKind kind = SiteKind.Static;
    private string? command;
    private string? sftpPassword;
    private string? passwordError;

    [Inject]
    private HostingService Hosting { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnInitializedAsync()
    {
        actor = await CurrentActor.GetAsync();
        plans = (await Hosting.ListPlansAsync(actor)).Where(p => p.Active).ToList();
        await LoadAsync(CancellationToken.None);
        if (RendererInfo.IsInteractive)
        {
            _ = LiveRefresh.RunAsync(TimeSpan.FromSeconds(3), LoadAsync, () => InvokeAsync(StateHasChanged), stop.Token);
        }
    }

    /// <summary>The sites' traffic this month as the edge counted it (what the plan's allowance is held against).</summary>
    private long TrafficThisMonth => sites?.Sum(s => s.BytesThisMonth) ?? 0;

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        space = await Hosting.SpaceAsync(actor, cancellationToken);
        sites = await Hosting.ListAsync(actor, cancellationToken);
    }

    private async Task AddAsync()
    {
        error = errorField = null;
        adding = true;
        try
        {
            var names = (aliases ?? "").Split([' ', ',', ';', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var site = await Hosting.AddSiteAsync(actor, new AddSiteRequest(domain ?? "", names, space is null ? planId : null, kind, kind == SiteKind.Dynamic ? command : null));
            Snackbar.Add($"{site.Domain} added", Severity.Success);
            domain = aliases = null;
            Navigation.NavigateTo($"/websites/{site.Id}");
        }
        catch (PanelRefusedException ex)
        {
            error = ex.Message;
            errorField = ex.Field is "Domain" or "Aliases" or "PlanId" or "Command" ? ex.Field : null;
        }
        finally
        {
            adding = false;
        }
    }

    private async Task SetPasswordAsync(string? password)
    {
        passwordError = null;
        try
        {
            space = await Hosting.SetSftpPasswordAsync(actor, password);
            sftpPassword = null;
            Snackbar.Add(password is null ? "SFTP password cleared: keys only" : "SFTP password set", Severity.Success);
        }
        catch (PanelRefusedException ex)
        {
            passwordError = ex.Message;
        }
    }

    private async Task CopyAsync(string text)
    {
        try
        {
            await JS.InvokeVoidAsync("navigator.clipboard.writeText", text);
            Snackbar.Add("Copied", Severity.Info);
        }
        catch (JSException)
        {
            Snackbar.Add("The browser did not allow copying; select the line instead.", Severity.Warning);
        }
    }

    private async Task DeleteAsync(SiteView site)
    {
        if (await Dialogs.ShowMessageBoxAsync($"Delete {site.Domain}?", "Its content, names and certificate are removed for good; the edge answers its names with \"no website here\".", yesText: "Delete", cancelText: "Cancel") != true)
        {
            return;
        }

        try
        {
            await Hosting.DeleteSiteAsync(actor, site.Id);
            Snackbar.Add($"{site.Domain} deleted", Severity.Info);
        }
        catch (Exception ex) when (ex is PanelRefusedException or PanelNotFoundException)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }

        await LoadAsync(CancellationToken.None);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        stop.Dispose();
    }
}
