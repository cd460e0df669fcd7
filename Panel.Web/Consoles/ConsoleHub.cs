using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Consoles;

/// <summary>
/// The web terminal's hub (<c>/hubs/console</c>), a SignalR connection of its own beside the page's
/// circuit, authenticated by the same cookie. The browser calls <see cref="Open"/>, then streams
/// <see cref="Output"/> into xterm.js and sends keystrokes with <see cref="Send"/>. Opening goes
/// through <see cref="ConsoleService"/> (owner or admin, VPS running, audited); a session id works
/// only on the connection that opened it, and the right to it is checked again while it is used.
/// Closing the tab ends the connection, which closes its consoles.
/// </summary>
[Authorize]
public sealed class ConsoleHub(ConsoleService consoles, ConsoleSessions sessions, ILogger<ConsoleHub> logger) : Hub
{
    /// <summary>Where the hub is mapped.</summary>
    public const string Path = "/hubs/console";

    /// <summary>How long a check of the caller's right to a console holds before it is made again.</summary>
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(15);

    /// <summary>The most characters one <see cref="Send"/> may carry.</summary>
    public const int MaxInput = 16 * 1024;

    private const string Gone = "This console is not open (it closed, or it belongs to another connection); open it again.";

    /// <summary>Opens the console of <paramref name="vpsId"/> with the terminal's size; returns the session id.</summary>
    public async Task<string> Open(int vpsId, int columns, int rows)
    {
        var actor = Caller();
        if (sessions.CountFor(Context.ConnectionId) >= ConsoleSessions.MaxPerConnection)
        {
            throw new HubException($"At most {ConsoleSessions.MaxPerConnection} consoles can be open at once; close one first.");
        }

        var opened = await Refusals(() => consoles.OpenAsync(actor, vpsId, columns, rows, Context.ConnectionAborted));
        var console = sessions.Add(Context.ConnectionId, actor, opened);
        if (Context.ConnectionAborted.IsCancellationRequested)
        {
            // The connection went while the console opened: OnDisconnectedAsync may have run already.
            await sessions.CloseAsync(console);
            throw new HubException("The connection closed.");
        }

        // A newline wakes the guest's getty or shell, so a prompt shows at once (in the background:
        // it waits for the console to be ready).
        _ = console.WakeAsync();
        return console.Id;
    }

    /// <summary>What the guest prints, as text, until the console closes. One stream per session.</summary>
    public ChannelReader<string> Output(string sessionId)
    {
        var console = sessions.Find(Context.ConnectionId, sessionId) ?? throw new HubException(Gone);
        return console.TakeOutput() ?? throw new HubException("This console's output is already being read.");
    }

    /// <summary>Types <paramref name="data"/> (as xterm.js produced it) into the console.</summary>
    public async Task Send(string sessionId, string data)
    {
        var console = await UsableAsync(sessionId);
        if (string.IsNullOrEmpty(data))
        {
            return;
        }

        if (data.Length > MaxInput)
        {
            throw new HubException($"At most {MaxInput} characters can be sent at once.");
        }

        try
        {
            await console.WriteAsync(Encoding.UTF8.GetBytes(data), Context.ConnectionAborted);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            await sessions.CloseAsync(console);
            throw new HubException("The console closed.");
        }
    }

    /// <summary>Tells the guest the terminal's new size.</summary>
    public async Task Resize(string sessionId, int columns, int rows)
        => (await UsableAsync(sessionId)).Resize(columns, rows);

    /// <summary>Closes a console of this connection.</summary>
    public async Task Close(string sessionId)
    {
        if (sessions.Find(Context.ConnectionId, sessionId) is { } console)
        {
            await sessions.CloseAsync(console);
        }
    }

    /// <inheritdoc />
    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        await sessions.CloseAllAsync(Context.ConnectionId);
        await base.OnDisconnectedAsync(exception);
    }

    private Actor Caller()
        => CurrentActor.From(Context.User ?? new System.Security.Claims.ClaimsPrincipal(), Context.GetHttpContext()?.Connection.RemoteIpAddress?.ToString());

    /// <summary>The console of this connection, its user's right to it checked again when the last check is old.</summary>
    private async Task<LiveConsole> UsableAsync(string sessionId)
    {
        var console = sessions.Find(Context.ConnectionId, sessionId) ?? throw new HubException(Gone);
        var actor = Caller();
        if (actor.UserId != console.Actor.UserId)
        {
            throw new HubException(Gone);
        }

        if (console.CheckDue(RecheckInterval))
        {
            try
            {
                await Refusals(async () =>
                {
                    await consoles.CheckAsync(actor, console.VpsId, Context.ConnectionAborted);
                    return true;
                });
            }
            catch (HubException)
            {
                // No longer theirs, or no longer running: the console goes.
                await sessions.CloseAsync(console);
                throw;
            }

            console.Checked();
        }

        return console;
    }

    /// <summary>Runs a service call, turning its refusals into messages the browser shows (never a stack trace).</summary>
    private async Task<T> Refusals<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (PanelNotFoundException ex)
        {
            throw new HubException(ex.Message);
        }
        catch (PanelRefusedException ex)
        {
            throw new HubException(ex.Message);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new HubException(ex.Message);
        }
        catch (Exception ex) when (ex is not HubException and not OperationCanceledException)
        {
            logger.LogError(ex, "Console request failed");
            throw new HubException("The console could not be opened; try again in a moment.");
        }
    }
}
