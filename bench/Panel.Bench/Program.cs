using System.Globalization;
using System.Text.Json;
using Panel.Bench;

// ./panel bench SUITE [--iterations N] [--density N] [--rounds N]
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: Panel.Bench SUITE [--iterations N] [--density N]   suites: engine, provision, billing, ui, hosting");
    return args.Length == 0 ? 2 : 0;
}

var options = BenchOptions.Parse(args[1..]);
var resultsDir = Environment.GetEnvironmentVariable("PANEL_BENCH_RESULTS") ?? Path.Combine(Directory.GetCurrentDirectory(), "bench", "results");
Directory.CreateDirectory(resultsDir);

BenchReport report;
switch (args[0])
{
    case "engine":
        report = await EngineBench.RunAsync(options);
        break;
    case "provision":
        report = await ProvisionBench.RunAsync(options);
        break;
    case "billing":
        report = await BillingBench.RunAsync();
        break;
    case "ui":
        report = await UiBench.RunAsync(options);
        break;
    case "hosting":
        report = await HostingBench.RunAsync(options);
        break;
    default:
        Console.Error.WriteLine($"error: unknown suite '{args[0]}' (known: engine, provision, billing, ui, hosting)");
        return 2;
}

report.Print(Console.Out);
var path = Path.Combine(resultsDir, args[0] + ".json");
await File.WriteAllTextAsync(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {path}"));
return 0;
