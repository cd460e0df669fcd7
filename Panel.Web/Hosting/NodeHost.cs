using Panel.Core;
using Panel.Core.Persistence;

namespace Panel.Web.Hosting;

/// <summary>
/// <c>Panel.Web --node</c>: a node agent without the web UI. It embeds the engine, serves its own
/// Hangfire queue (<c>node-NAME</c>) and reports a heartbeat; the panel (and its database) must
/// already run. <c>./panel node --name NAME</c> starts one beside the panel on this machine.
/// </summary>
public static class NodeHost
{
    /// <summary>Whether the command line asks for node mode.</summary>
    public static bool IsNodeMode(string[] args) => args.Contains("--node");

    /// <summary>Runs the node agent until stopped. Returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args.Where(a => a != "--node").ToArray());
        var connectionString = builder.Configuration.GetConnectionString("Panel");
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            Console.Error.WriteLine("error: no database configured: set ConnectionStrings:Panel (environment variable ConnectionStrings__Panel).");
            return 2;
        }

        var options = builder.Configuration.GetSection(PanelOptions.Section).Get<PanelOptions>() ?? new PanelOptions();
        options.Jobs.RunServer = true; // a node exists to serve its queue
        builder.Services.AddSingleton(options);
        builder.Services.AddPanelCore(connectionString, options);

        var problem = await PanelDatabase.ProbeAsync(connectionString, TimeSpan.FromSeconds(5));
        if (problem is not null)
        {
            Console.Error.WriteLine($"error: cannot reach PostgreSQL at {PanelDatabase.Describe(connectionString)}: {problem}");
            return 3;
        }

        using var host = builder.Build();
        Console.WriteLine($"node {options.Jobs.NodeName}: serving queue {Panel.Core.Jobs.JobsServiceCollectionExtensions.NodeQueue(options.Jobs.NodeName)}, engine state in {options.Engine.StateDirectory}, bridge {options.Engine.BridgeName} ({options.Engine.BridgeCidr})");
        await host.RunAsync();
        return 0;
    }
}
