using Panel.Web.Hosting;

var builder = WebApplication.CreateBuilder(args);
if (!builder.AddPanel())
{
    return 2;
}

var app = builder.Build();
app.UsePanel();

// Probe the database, migrate and seed before serving; on failure print one line and stop.
var exitCode = await app.PrepareDatabaseAsync();
if (exitCode != 0 || args.Contains("--migrate-only"))
{
    return exitCode;
}

await app.RunAsync();
return 0;

/// <summary>The entry point, visible to the test host.</summary>
public partial class Program;
