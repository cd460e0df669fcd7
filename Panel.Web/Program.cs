using Panel.Web.Hosting;

if (NodeHost.IsNodeMode(args))
{
    return await NodeHost.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);
if (!builder.AddPanel())
{
    return 2;
}

// An unreachable database is the most common start-up failure: say so before anything connects
// in the background (Hangfire's storage would keep the process alive for half a minute).
if (StartupChecks.ConnectionString(builder.Configuration) is { } connection && !await StartupChecks.DatabaseAnswersAsync(connection))
{
    return 3;
}

var app = builder.Build();
app.UsePanel();

// Probe the database, migrate and seed before serving; on failure print one line and stop.
var exitCode = await app.PrepareDatabaseAsync();
if (exitCode != 0 || args.Contains("--migrate-only"))
{
    return exitCode;
}

try
{
    await app.RunAsync();
}
catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    Console.Error.WriteLine($"error: cannot listen: {ex.Message} Is another panel running? (./panel status)");
    return 5;
}
catch (Exception ex) when (ex is not OperationCanceledException)
{
    // Unexpected: keep the whole exception for the operator, after a one-line summary.
    Console.Error.WriteLine($"error: the panel stopped: {ex.Message}");
    Console.Error.WriteLine(ex);
    return 1;
}

return 0;

/// <summary>The entry point, visible to the test host.</summary>
public partial class Program;
