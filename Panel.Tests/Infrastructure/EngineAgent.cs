using System.Diagnostics;
using System.Text.Json;
using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Instances;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// A separate process that embeds the engine (<c>dotnet Panel.Tests.dll --engine-agent …</c>):
/// <c>run SPEC</c> creates and starts an instance, prints <c>ready</c> and stays alive until killed;
/// <c>recover</c> re-attaches to every instance and prints their states as JSON.
/// </summary>
public static class EngineAgent
{
    /// <summary>The command-line verb.</summary>
    public const string Verb = "--engine-agent";

    /// <summary>The agent's main: <c>OPTIONS-JSON run SPEC-JSON</c> or <c>OPTIONS-JSON recover</c>.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var options = JsonSerializer.Deserialize<EngineOptions>(args[0])!;
        var driver = new LxcDriver(options);
        switch (args[1])
        {
            case "run":
                var spec = JsonSerializer.Deserialize<InstanceSpec>(args[2])!;
                await driver.CreateAsync(new CreateOptions(spec));
                await driver.StartAsync(new StartOptions(spec.Id));
                Console.WriteLine("ready");
                await Task.Delay(Timeout.Infinite);
                return 0;
            case "recover":
                var states = await driver.RecoverAsync(new RecoverOptions());
                Console.WriteLine(JsonSerializer.Serialize(states));
                return 0;
            default:
                return 2;
        }
    }

    /// <summary>Starts an agent process (the test assembly itself).</summary>
    public static Process Start(EngineOptions options, params string[] command)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(EngineAgent).Assembly.Location);
        start.ArgumentList.Add(Verb);
        start.ArgumentList.Add(JsonSerializer.Serialize(options));
        foreach (var c in command)
        {
            start.ArgumentList.Add(c);
        }

        return Process.Start(start)!;
    }
}
