using Panel.Tests.Infrastructure;

namespace Panel.Tests;

/// <summary>
/// The test assembly's entry point: xunit's runner, as xunit would generate it, plus
/// <c>--engine-agent</c>: a purpose-built process that embeds the engine so tests can kill a real
/// engine process (<c>kill -9</c>) and start it again.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == EngineAgent.Verb)
        {
            return EngineAgent.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Any(arg => arg is "--server" or "--internal-msbuild-node"))
        {
            return Xunit.MicrosoftTestingPlatform.TestPlatformTestFramework.RunAsync(args, SelfRegisteredExtensions.AddSelfRegisteredExtensions).GetAwaiter().GetResult();
        }

        return Xunit.Runner.InProc.SystemConsole.ConsoleRunner.Run(args).GetAwaiter().GetResult();
    }
}
