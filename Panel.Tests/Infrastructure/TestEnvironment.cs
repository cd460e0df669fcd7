namespace Panel.Tests.Infrastructure;

/// <summary>What <c>./panel test</c> hands the suite: the PostgreSQL server, where artifacts go, the browser.</summary>
public static class TestEnvironment
{
    /// <summary>A connection string to the test PostgreSQL server's maintenance database (role with CREATEDB).</summary>
    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable("PANEL_TEST_PG")
        ?? throw new InvalidOperationException("PANEL_TEST_PG is not set: run the tests with ./panel test, which starts PostgreSQL and sets it.");

    /// <summary>The folder for screenshots and logs the tests keep.</summary>
    public static string ArtifactsDirectory
    {
        get
        {
            var dir = Environment.GetEnvironmentVariable("PANEL_TEST_ARTIFACTS") ?? Path.Combine(RepositoryRoot, "test-artifacts");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    /// <summary>The Chromium binary Playwright drives.</summary>
    public static string ChromiumPath => Environment.GetEnvironmentVariable("PANEL_CHROMIUM") ?? "/usr/bin/chromium";

    /// <summary>The repository root (the folder holding VpsPanel.sln).</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The build configuration the tests were built with (Debug or Release).</summary>
    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    /// <summary>The panel's built entry assembly, run as a real process by web tests.</summary>
    public static string PanelWebDll => Path.Combine(RepositoryRoot, "Panel.Web", "bin", Configuration, "net10.0", "Panel.Web.dll");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "VpsPanel.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("VpsPanel.sln not found above " + AppContext.BaseDirectory);
    }
}
