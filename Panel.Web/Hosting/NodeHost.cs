using Panel.Core;

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
        var connectionString = StartupChecks.ConnectionString(builder.Configuration);
        if (connectionString is null)
        {
            return 2;
        }

        var options = builder.Configuration.GetSection(PanelOptions.Section).Get<PanelOptions>() ?? new PanelOptions();
        options.Jobs.RunServer = true; // a node exists to serve its queue
        builder.Services.AddSingleton(options);
        builder.Services.AddPanelCore(connectionString, options);

        if (!await StartupChecks.DatabaseAnswersAsync(connectionString))
        {
            return 3;
        }

        using var host = builder.Build();
        Console.WriteLine($"node {options.Jobs.NodeName}: serving queue {Panel.Core.Jobs.JobsServiceCollectionExtensions.NodeQueue(options.Jobs.NodeName)}, engine state in {options.Engine.StateDirectory}, bridge {options.Engine.BridgeName} ({options.Engine.BridgeCidr})");
        await host.RunAsync();
        return 0;
    }
}
