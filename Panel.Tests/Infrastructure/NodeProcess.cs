using Microsoft.EntityFrameworkCore;
using Panel.Hypervisor;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// A node agent as its own process (<c>Panel.Web --node</c>, as <c>./panel node</c> runs it) with a
/// private engine, on a test database: something a test can kill with SIGKILL and start again.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private PanelProcess process;

    private readonly string? backups;
    private readonly TestDatabase database;

    private NodeProcess(string name, EngineOptions engine, string? backups, TestDatabase database, PanelProcess process)
    {
        Name = name;
        Engine = engine;
        this.backups = backups;
        this.database = database;
        this.process = process;
    }

    /// <summary>The node's name.</summary>
    public string Name { get; }

    /// <summary>Its engine's options.</summary>
    public EngineOptions Engine { get; }

    /// <summary>What it printed.</summary>
    public string Output => process.Output;

    /// <summary>Starts a node agent and waits until it has registered (a heartbeat after start).</summary>
    /// <param name="database">The database.</param>
    /// <param name="name">The node's name.</param>
    /// <param name="engine">Its engine.</param>
    /// <param name="backups">
    /// The backups folder it shares with other nodes. Given, the node is taken to share another
    /// node's guest network too: disposing it leaves the bridge and the nftables table.
    /// </param>
    public static async Task<NodeProcess> StartAsync(TestDatabase database, string name, EngineOptions engine, string? backups = null)
    {
        var node = new NodeProcess(name, engine, backups, database, await LaunchAsync(database, name, engine, backups));
        await node.WaitForHeartbeatAsync(database, DateTime.UtcNow);
        return node;
    }

    /// <summary>SIGKILL (a crash), then a new process with the same settings; waits for its first heartbeat.</summary>
    public async Task CrashAndRestartAsync(TestDatabase database)
    {
        await process.KillAsync();
        await process.DisposeAsync();
        var since = DateTime.UtcNow;
        process = await LaunchAsync(database, Name, Engine, backups);
        await WaitForHeartbeatAsync(database, since);
    }

    private static Task<PanelProcess> LaunchAsync(TestDatabase database, string name, EngineOptions engine, string? backups)
        => PanelProcess.StartAsync(database.ConnectionString, new Dictionary<string, string?>
        {
            ["Panel__Jobs__NodeName"] = name,
            ["Panel__Jobs__WorkerCount"] = "4",
            ["Panel__Engine__StateDirectory"] = engine.StateDirectory,
            ["Panel__Engine__ImagesDirectory"] = engine.ImagesDirectory,
            ["Panel__Engine__BridgeName"] = engine.BridgeName,
            ["Panel__Engine__BridgeCidr"] = engine.BridgeCidr,
            ["Panel__Engine__BridgeCidr6"] = engine.BridgeCidr6,
            ["Panel__Engine__NftTable"] = engine.NftTable,
            ["Panel__Backups__Directory"] = backups,
            ["ASPNETCORE_URLS"] = null,
        }, waitUntilServing: false, arguments: ["--node"]);

    private async Task WaitForHeartbeatAsync(TestDatabase database, DateTime since)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"node {Name} exited ({process.ExitCode}): {process.Output}");
            }

            await using var db = database.CreateContext();
            if (await db.Nodes.AnyAsync(n => n.Name == Name && n.LastHeartbeatAt > since.AddSeconds(-1)))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"node {Name} did not report within 60 s: {process.Output}");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // Drained first: a stopped node looks online until its last heartbeat is 45 s old and would take orders.
        await using (var db = database.CreateContext())
        {
            await db.Nodes.Where(n => n.Name == Name).ExecuteUpdateAsync(s => s.SetProperty(n => n.Maintenance, true));
        }

        await process.StopAsync();
        await process.DisposeAsync();
        await NodeHostFixture.RemoveEngineAsync(Engine, keepNetwork: backups is not null);
    }
}
