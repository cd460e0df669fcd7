using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;
using Panel.Core.Domain.Compute;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Components.Pages.Servers;

/// <summary>
/// A server's console in the browser. The page hosts the terminal's element and starts
/// <c>js/console.js</c>, which runs xterm.js and talks to the console hub over a SignalR connection
/// of its own; the module reports its state back here.
/// </summary>
public sealed partial class ServerConsole
{
    private Actor actor = Actor.Anonymous();
    private VpsView? server;
    private bool notFound;
    private ElementReference terminal;
    private IJSObjectReference? module;
    private DotNetObjectReference<ServerConsole>? self;
    private bool started;
    private string state = "connecting";
    private string? error;

    /// <summary>The server's id (from the address).</summary>
    [Parameter]
    public int Id { get; set; }

    [Inject]
    private VpsService Vpses { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    private Color StateColor => state switch
    {
        "connected" => Color.Success,
        "error" => Color.Error,
        "closed" => Color.Default,
        _ => Color.Info,
    };

    private string StateIcon => state switch
    {
        "connected" => Icons.Material.Filled.Link,
        "error" => Icons.Material.Filled.Error,
        "closed" => Icons.Material.Filled.LinkOff,
        _ => Icons.Material.Filled.Autorenew,
    };

    private string StateText => state switch
    {
        "connected" => "connected",
        "error" => "not connected",
        "closed" => "the console closed",
        _ => "connecting…",
    };

    /// <summary>Called by the console module when its state changes.</summary>
    [JSInvokable]
    public async Task OnStatus(string newState, string? message)
    {
        state = newState;
        error = newState == "error" ? message ?? "The console could not be used." : null;
        await InvokeAsync(StateHasChanged);
    }

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        actor = await CurrentActor.GetAsync();
        try
        {
            server = await Vpses.GetAsync(actor, Id);
        }
        catch (PanelNotFoundException)
        {
            notFound = true;
        }
    }

    /// <inheritdoc />
    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!started && RendererInfo.IsInteractive && server is { Status: VpsStatus.Running })
        {
            started = true;
            await StartAsync();
        }
    }

    private async Task StartAsync()
    {
        try
        {
            module ??= await JS.InvokeAsync<IJSObjectReference>("import", "./js/console.js");
            self ??= DotNetObjectReference.Create(this);
            await module.InvokeVoidAsync("start", terminal, Id, self);
        }
        catch (JSException)
        {
            await OnStatus("error", "The terminal could not be started; reload the page.");
        }
        catch (JSDisconnectedException)
        {
            // the tab went away
        }
    }

    private async Task ReconnectAsync()
    {
        error = null;
        state = "connecting";
        await StartAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (module is not null)
        {
            try
            {
                await module.InvokeVoidAsync("stop", terminal);
                await module.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
                // The circuit is gone with the tab; the hub's own connection closes its consoles.
            }
        }

        self?.Dispose();
    }
}
