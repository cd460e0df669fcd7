using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Services;
using Panel.Web.Components.Shared;

namespace Panel.Web.Components.Pages.Websites;

/// <summary>Change the hosting plan or cancel the hosting, for the caller's own space (the service checks it).</summary>
public sealed partial class HostingPlanPanel
{
    private int? targetId;
    private string? error;
    private bool busy;

    /// <summary>The caller.</summary>
    [Parameter, EditorRequired]
    public Actor Actor { get; set; } = default!;

    /// <summary>The caller's hosting space.</summary>
    [Parameter, EditorRequired]
    public HostingSpaceView Space { get; set; } = default!;

    /// <summary>The plans on offer.</summary>
    [Parameter, EditorRequired]
    public IReadOnlyList<HostingPlanView> Plans { get; set; } = [];

    /// <summary>Raised after a change, so the page reloads.</summary>
    [Parameter]
    public EventCallback Changed { get; set; }

    [Inject]
    private HostingService Hosting { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    private List<HostingPlanView> Others => [.. Plans.Where(p => p.Name != Space.PlanName)];

    private async Task ChangeAsync()
    {
        if (Others.FirstOrDefault(p => p.Id == targetId) is not { } plan)
        {
            return;
        }

        var price = plan.MonthlyPrice.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
        if (await Dialogs.ShowMessageBoxAsync($"Move to {plan.Name}?",
                $"{plan.MaxSites} site(s), {Format.Bytes(plan.DiskBytes)} of disk, {plan.Vcpus} CPU and {Format.Bytes(plan.MemoryBytes)} for {price} a month, charged by the hour from now on.",
                yesText: "Change plan", cancelText: "Keep my plan") != true)
        {
            return;
        }

        await RunAsync(async () =>
        {
            await Hosting.ChangePlanAsync(Actor, plan.Id);
            targetId = null;
            Snackbar.Add($"Your hosting moves to {plan.Name}", Severity.Success);
        });
    }

    private async Task CancelAsync()
    {
        if (await Dialogs.ShowMessageBoxAsync("Cancel your hosting?",
                $"All {Space.Sites} website(s), their content and certificates are deleted for good, and the hosting runtime with them. This cannot be undone.",
                yesText: "Cancel hosting", cancelText: "Keep it") != true)
        {
            return;
        }

        await RunAsync(async () =>
        {
            var names = await Hosting.CancelAsync(Actor);
            Snackbar.Add(names.Count == 0 ? "Hosting cancelled" : $"Hosting cancelled; {string.Join(", ", names)} removed", Severity.Info);
        });
    }

    private async Task RunAsync(Func<Task> action)
    {
        error = null;
        busy = true;
        try
        {
            await action();
            await Changed.InvokeAsync();
        }
        catch (Exception ex) when (ex is PanelRefusedException or PanelNotFoundException)
        {
            error = ex.Message;
        }
        finally
        {
            busy = false;
        }
    }
}
