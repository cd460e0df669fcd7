using System.Collections.Concurrent;
using Panel.Core.Services;

namespace Panel.Web.Consoles;

/// <summary>
/// The open consoles of this process, by session id. A session is found only together with the
/// hub connection that opened it, so an id seen elsewhere (another tab, another user) is useless.
/// A console that ends by itself is removed; the hub closes a connection's consoles when it goes.
/// </summary>
public sealed class ConsoleSessions(TimeProvider clock, ILogger<ConsoleSessions> logger) : IAsyncDisposable
{
    /// <summary>The most consoles one connection may hold open.</summary>
    public const int MaxPerConnection = 4;

    private readonly ConcurrentDictionary<string, LiveConsole> live = new(StringComparer.Ordinal);

    /// <summary>How many consoles are open (all connections).</summary>
    public int Count => live.Count;

    /// <summary>How many consoles <paramref name="connectionId"/> holds.</summary>
    public int CountFor(string connectionId) => live.Values.Count(c => c.ConnectionId == connectionId);

    /// <summary>Registers a newly opened console of <paramref name="connectionId"/>.</summary>
    public LiveConsole Add(string connectionId, Actor actor, OpenedConsole opened)
    {
        var console = new LiveConsole(connectionId, actor, opened, clock);
        live[console.Id] = console;
        logger.LogInformation("Console {Session} of VPS {VpsId} opened by {Actor}", console.Id[..8], console.VpsId, actor.Name);
        _ = console.Ended.ContinueWith(_ => CloseAsync(console), TaskScheduler.Default);
        return console;
    }

    /// <summary>The console <paramref name="sessionId"/> if <paramref name="connectionId"/> opened it, else null.</summary>
    public LiveConsole? Find(string connectionId, string? sessionId)
        => sessionId is not null && live.TryGetValue(sessionId, out var c) && string.Equals(c.ConnectionId, connectionId, StringComparison.Ordinal) ? c : null;

    /// <summary>Closes one console (idempotent).</summary>
    public async Task CloseAsync(LiveConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (live.TryRemove(new KeyValuePair<string, LiveConsole>(console.Id, console)))
        {
            logger.LogInformation("Console {Session} of VPS {VpsId} closed", console.Id[..8], console.VpsId);
        }

        await console.DisposeAsync();
    }

    /// <summary>Closes every console of <paramref name="connectionId"/>.</summary>
    public async Task CloseAllAsync(string connectionId)
    {
        foreach (var c in live.Values.Where(c => c.ConnectionId == connectionId).ToList())
        {
            await CloseAsync(c);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var c in live.Values.ToList())
        {
            await CloseAsync(c);
        }
    }
}
