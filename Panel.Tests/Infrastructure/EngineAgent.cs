using System.Diagnostics;
using System.Text.Json;
using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Drivers.Qemu;
using Panel.Hypervisor.Drivers.Uml;
using Panel.Hypervisor.Instances;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// A separate process that embeds the engine with one driver (<c>dotnet Panel.Tests.dll --engine-agent …</c>):
/// <c>run SPEC</c> creates and starts an instance, prints <c>ready</c> and stays alive until killed;
/// <c>recover</c> re-attaches to every instance of the driver and prints their states as JSON.
/// </summary>
public static class EngineAgent
{
    /// <summary>The command-line verb.</summary>
    public const string Verb = "--engine-agent";

    /// <summary>The agent's main: <c>OPTIONS-JSON DRIVER run SPEC-JSON</c> or <c>OPTIONS-JSON DRIVER recover</c> (DRIVER: lxc, uml, qemu).</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var options = JsonSerializer.Deserialize<EngineOptions>(args[0])!;
        var driver = Driver(args[1], options);
        switch (args[2])
        {
            case "run":
                var spec = JsonSerializer.Deserialize<InstanceSpec>(args[3])!;
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

    /// <summary>A new driver of that name over <paramref name="options"/>, as a freshly started engine has it.</summary>
    public static IInstanceDriver Driver(string name, EngineOptions options) => name switch
    {
        "lxc" => new LxcDriver(options),
        "uml" => new UmlDriver(options),
        "qemu" => new QemuDriver(options),
        _ => throw new ArgumentException($"unknown driver '{name}'", nameof(name)),
    };

    /// <summary>Starts an agent process (the test assembly itself) embedding the driver <paramref name="driver"/>.</summary>
    public static Process Start(EngineOptions options, string driver, params string[] command)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(EngineAgent).Assembly.Location);
        start.ArgumentList.Add(Verb);
        start.ArgumentList.Add(JsonSerializer.Serialize(options));
        start.ArgumentList.Add(driver);
        foreach (var c in command)
        {
            start.ArgumentList.Add(c);
        }

        return Process.Start(start)!;
    }
}
