using Microsoft.AspNetCore.Components;
using MudBlazor;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Web.Components.Account;
using Panel.Web.Components.Shared;

namespace Panel.Web.Components.Pages.Servers;

/// <summary>One server: live status, power actions, snapshots and the operation history.</summary>
public sealed partial class ServerDetail
{
    private readonly CancellationTokenSource stop = new();
    private Actor actor = Actor.Anonymous();
    private VpsView? server;
    private OperationView? active;
    private IReadOnlyList<OperationView> operations = [];
    private IReadOnlyList<SnapshotView> snapshots = [];
    private IReadOnlyList<BackupView> backups = [];
    private IReadOnlyList<NodeView> moveTargets = [];
    private int? moveTarget;
    private string? movesFor;
    private string? snapshotName;
    private bool notFound;

    /// <summary>The server's id (from the address).</summary>
    [Parameter]
    public int Id { get; set; }

    [Inject]
    private VpsService Vpses { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private NodeService Nodes { get; set; } = default!;

    [Inject]
    private Panel.Core.PanelOptions Options { get; set; } = default!;

    private int KeepPerVps => Options.Backups.KeepPerVps;

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        actor = await CurrentActor.GetAsync();
        await LoadAsync(CancellationToken.None);
        if (RendererInfo.IsInteractive && !notFound)
        {
            _ = RefreshAsync();
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        try
        {
            server = await Vpses.GetAsync(actor, Id, cancellationToken);
            operations = await Vpses.OperationsAsync(actor, Id, 20, cancellationToken);
            snapshots = await Vpses.SnapshotsAsync(actor, Id, cancellationToken);
            backups = await Vpses.BackupsAsync(actor, Id, cancellationToken);
            if (actor.IsAdmin && server.NodeName is { } here && movesFor != here)
            {
                movesFor = here; // once per node the server is on, not every refresh
                var all = await Nodes.ListAsync(actor, cancellationToken);
                var home = all.FirstOrDefault(n => n.Name == here);
                moveTargets = home is null ? [] : all.Where(n => n.Name != here && n.GuestNetworks == home.GuestNetworks).ToList();
            }
            active = server.BusyOperationId is { } busy ? operations.FirstOrDefault(o => o.Id == busy) : null;
        }
        catch (PanelNotFoundException)
        {
            notFound = true;
        }
    }

    private async Task RefreshAsync() =>
        await LiveRefresh.RunAsync(TimeSpan.FromSeconds(1), LoadAsync, () => InvokeAsync(StateHasChanged), stop.Token);

    private bool Can(OperationKind kind) => server is { BusyOperationId: null } s && (s.Status, kind) switch
    {
        (VpsStatus.Deleted or VpsStatus.Deleting or VpsStatus.Creating, _) => false,
        (VpsStatus.Suspended, _) => actor.IsAdmin,
        (VpsStatus.Running, OperationKind.Start) => false,
        (VpsStatus.Stopped, OperationKind.Stop or OperationKind.Reboot or OperationKind.ForceStop) => false,
        _ => true,
    };

    private async Task RunAsync(OperationKind kind)
    {
        if (kind is OperationKind.Delete or OperationKind.ForceStop or OperationKind.Stop or OperationKind.Reboot)
        {
            var (title, text, yes) = kind switch
            {
                OperationKind.Delete => ("Delete this server?", $"{server!.Hostname} and its disk and snapshots are removed for good; its address goes back to the pool.", "Delete"),
                OperationKind.ForceStop => ("Force it off?", "Like pulling the plug: unsaved data in the server is lost.", "Force off"),
                OperationKind.Stop => ("Shut it down?", "The server is asked to shut down cleanly, and powered off if it has not after a while.", "Shut down"),
                _ => ("Reboot it?", "The server shuts down cleanly and starts again.", "Reboot"),
            };
            if (await Dialogs.ShowMessageBoxAsync(title, text, yesText: yes, cancelText: "Cancel") != true)
            {
                return;
            }
        }

        await RequestAsync(() => kind switch
        {
            OperationKind.Start => Vpses.StartAsync(actor, Id),
            OperationKind.Stop => Vpses.StopAsync(actor, Id),
            OperationKind.Reboot => Vpses.RebootAsync(actor, Id),
            OperationKind.ForceStop => Vpses.ForceStopAsync(actor, Id),
            _ => Vpses.DeleteAsync(actor, Id),
        }, $"{Format.Words(kind)} requested");
    }

    private Task SnapshotAsync()
        => RequestAsync(async () =>
        {
            var id = await Vpses.SnapshotAsync(actor, Id, snapshotName ?? "");
            snapshotName = null;
            return id;
        }, "snapshot requested");

    private async Task RestoreAsync(string name)
    {
        if (await Dialogs.ShowMessageBoxAsync("Restore this snapshot?", $"The disk goes back to {name}; what changed since is lost. A running server restarts.", yesText: "Restore", cancelText: "Cancel") == true)
        {
            await RequestAsync(() => Vpses.RestoreSnapshotAsync(actor, Id, name), $"restore of {name} requested");
        }
    }

    private async Task DeleteSnapshotAsync(string name)
    {
        if (await Dialogs.ShowMessageBoxAsync("Delete this snapshot?", $"{name} is removed for good.", yesText: "Delete", cancelText: "Cancel") == true)
        {
            await RequestAsync(() => Vpses.DeleteSnapshotAsync(actor, Id, name), $"deletion of {name} requested");
        }
    }

    private Task BackupAsync() => RequestAsync(() => Vpses.BackupAsync(actor, Id), "backup requested");

    private async Task RestoreBackupAsync(BackupView backup)
    {
        if (await Dialogs.ShowMessageBoxAsync("Restore this backup?", $"The disk is replaced by the backup of {Format.Time(backup.CreatedAt)}; what changed since, and the snapshots, are lost. A running server restarts.", yesText: "Restore backup", cancelText: "Cancel") == true)
        {
            await RequestAsync(() => Vpses.RestoreBackupAsync(actor, Id, backup.Id), "restore of the backup requested");
        }
    }

    private async Task DeleteBackupAsync(BackupView backup)
    {
        if (await Dialogs.ShowMessageBoxAsync("Delete this backup?", $"The backup of {Format.Time(backup.CreatedAt)} is removed for good.", yesText: "Delete backup", cancelText: "Cancel") == true)
        {
            await RequestAsync(() => Vpses.DeleteBackupAsync(actor, Id, backup.Id), "deletion of the backup requested");
        }
    }

    private async Task MoveAsync()
    {
        var target = moveTargets.FirstOrDefault(n => n.Id == moveTarget);
        if (target is null)
        {
            return;
        }

        if (await Dialogs.ShowMessageBoxAsync($"Move to {target.Name}?", $"{server!.Hostname} stops while its disk moves to {target.Name}, then starts there with the same addresses. Its snapshots stay behind.", yesText: "Move", cancelText: "Cancel") == true)
        {
            await RequestAsync(() => Vpses.MigrateAsync(actor, Id, target.Id), $"move to {target.Name} requested");
        }
    }

    private async Task RequestAsync(Func<Task<long>> request, string accepted)
    {
        try
        {
            await request();
            Snackbar.Add(char.ToUpperInvariant(accepted[0]) + accepted[1..], Severity.Info);
        }
        catch (PanelRefusedException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
        catch (PanelNotFoundException ex)
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
