using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// The real panel, started as its own process from the build output (as <c>./panel up</c> does
/// from the published output), on a free loopback port. Killed, with its children, on dispose.
/// </summary>
public sealed class PanelProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();

    // Every panel this test run started; killed when the test host exits, whatever happened.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, Process> Live = new();

    static PanelProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var p in Live.Values)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                }
            }
            catch (InvalidOperationException)
            {
            }
        }
    };

    private PanelProcess(Process process, Uri baseAddress)
    {
        this.process = process;
        BaseAddress = baseAddress;
    }

    /// <summary>The engine options the process was given (unless overridden by the caller's environment).</summary>
    public Panel.Hypervisor.EngineOptions Engine { get; private init; } = new();

    /// <summary>The port of the hosting edge's HTTP listener on 127.0.0.1 (unless the caller's environment moved or disabled it).</summary>
    public int EdgeHttpPort { get; private init; }

    /// <summary>The port of the hosting edge's HTTPS listener on 127.0.0.1.</summary>
    public int EdgeHttpsPort { get; private init; }

    /// <summary>Where the panel listens.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => process.HasExited;

    /// <summary>The exit code (after it ended).</summary>
    public int ExitCode => process.ExitCode;

    /// <summary>Everything the process printed so far (stdout and stderr, interleaved).</summary>
    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>The admin the process seeds on an empty database.</summary>
    public const string AdminEmail = "admin@test.local", AdminPassword = "Admin-Passw0rd";

    /// <summary>Starts the panel on <paramref name="connectionString"/> and, unless told not to, waits until <c>/healthz</c> answers.</summary>
    public static async Task<PanelProcess> StartAsync(
        string connectionString,
        IReadOnlyDictionary<string, string?>? environment = null,
        bool waitUntilServing = true,
        int? port = null,
        IReadOnlyList<string>? arguments = null)
    {
        var dll = TestEnvironment.PanelWebDll;
        File.Exists(dll).ShouldBeTrue($"{dll} is missing: build the solution first (./panel test does)");
        var listenPort = port ?? FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in arguments ?? [])
        {
            start.ArgumentList.Add(a);
        }
        var env = start.Environment;
        foreach (var key in env.Keys.Where(k => k.StartsWith("PANEL_", StringComparison.Ordinal) || k.StartsWith("Panel__", StringComparison.Ordinal)).ToList())
        {
            env.Remove(key);
        }

        env["ASPNETCORE_ENVIRONMENT"] = "Production";
        env["ASPNETCORE_URLS"] = $"http://127.0.0.1:{listenPort}";
        env["ConnectionStrings__Panel"] = connectionString;
        env["PANEL_ADMIN_EMAIL"] = AdminEmail;
        env["PANEL_ADMIN_PASSWORD"] = AdminPassword;
        env["Panel__StaticWebAssetsFromBuild"] = "true";
        env["Panel__Jobs__NodeName"] = "test";
        // The hosting edge on free ports of its own (its default ports are fixed; panels of parallel runs would fight over them).
        var edgeHttp = FreePort();
        var edgeHttps = FreePort();
        env["Panel__Edge__HttpUrl"] = $"http://127.0.0.1:{edgeHttp}";
        env["Panel__Edge__HttpsUrl"] = $"https://127.0.0.1:{edgeHttps}";
        // Its SFTP gateway's ports start at a free one (spaces take the next ones up).
        env["Panel__Edge__SftpFirstPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        env["Panel__Jobs__WorkerCount"] = "2";
        env["Panel__Jobs__HeartbeatSeconds"] = "1";
        // Its engine is private (state folder, bridge, subnet, nftables table), never a real node's.
        var engine = EngineFixture.PrivateOptions(Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6]);
        env["Panel__Engine__StateDirectory"] = engine.StateDirectory;
        env["Panel__Engine__ImagesDirectory"] = engine.ImagesDirectory;
        env["Panel__Engine__BridgeName"] = engine.BridgeName;
        env["Panel__Engine__BridgeCidr"] = engine.BridgeCidr;
        env["Panel__Engine__NftTable"] = engine.NftTable;
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                env.Remove(key);
            }
            else
            {
                env[key] = value;
            }
        }

        var p = new Process { StartInfo = start, EnableRaisingEvents = true };
        var panel = new PanelProcess(p, new Uri($"http://127.0.0.1:{listenPort}")) { Engine = engine, EdgeHttpPort = edgeHttp, EdgeHttpsPort = edgeHttps };
        p.OutputDataReceived += (_, e) => panel.Append(e.Data);
        p.ErrorDataReceived += (_, e) => panel.Append(e.Data);
        p.Start();
        Live[p.Id] = p;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (waitUntilServing)
        {
            try
            {
                await panel.WaitUntilServingAsync(TimeSpan.FromSeconds(90));
            }
            catch
            {
                await panel.DisposeAsync();
                throw;
            }
        }

        return panel;
    }

    /// <summary>Waits for the process to end on its own.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        process.WaitForExit(); // drain the output handlers
        return process.ExitCode;
    }

    /// <summary>A plain HTTP client for this panel (no redirects followed, cookies kept).</summary>
    public PanelHttpClient CreateClient() => new(BaseAddress);

    /// <summary>Stops the process (SIGTERM, then SIGKILL after a grace period).</summary>
    public async Task StopAsync()
    {
        if (process.HasExited)
        {
            return;
        }

        try
        {
            Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])?.WaitForExit();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>SIGKILL to the process alone (a crash): whatever it started on its own keeps running.</summary>
    public async Task KillAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: false);
            await process.WaitForExitAsync();
        }

        Live.TryRemove(process.Id, out _);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            Live.TryRemove(process.Id, out _);
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // never started
        }

        process.Dispose();
        if (Engine.StateDirectory.Contains("vpspanel-engine-test-", StringComparison.Ordinal))
        {
            await NodeHostFixture.RemoveEngineAsync(Engine);
        }
    }

    private async Task WaitUntilServingAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the panel exited with code {process.ExitCode} before serving:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the panel did not serve within {timeout}:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    /// <summary>A TCP port that was free a moment ago on 127.0.0.1.</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
