using System.Globalization;
using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// A private engine for the test run: its own state folder, bridge, guest subnet and nftables
/// table, so tests never touch a real node's guests. Everything is removed at the end, also
/// after failures. Images come from the machine's image store (<c>./panel test</c> builds busybox).
/// </summary>
public sealed class EngineFixture : IAsyncLifetime
{
    private static readonly string Suffix = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
    private int next = 1;

    /// <summary>The engine options of this run.</summary>
    public EngineOptions Options { get; } = new()
    {
        StateDirectory = Path.Combine(Path.GetTempPath(), "vpspanel-engine-test-" + Suffix),
        ImagesDirectory = Path.Combine(Environment.GetEnvironmentVariable("PANEL_STATE_DIR") ?? "/var/lib/vpspanel", "images"),
        BridgeName = "vpst" + Suffix,
        BridgeCidr = string.Create(CultureInfo.InvariantCulture, $"10.251.{Random.Shared.Next(1, 254)}.1/24"),
        NftTable = "vpspanel_t" + Suffix,
    };

    /// <summary>Why engine tests cannot run here (not root, LXC missing), or null.</summary>
    public string? Unavailable { get; private set; }

    /// <summary>The LXC driver.</summary>
    public LxcDriver Lxc { get; private set; } = default!;

    /// <summary>The guest network of the test bridge.</summary>
    public GuestNetwork Network => Lxc.Network;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await SweepEarlierRunsAsync();
        Lxc = new LxcDriver(Options);
        var info = await Lxc.ProbeAsync(new ProbeOptions());
        if (!info.Usable)
        {
            Unavailable = $"the LXC driver cannot run here: {info.Reason}";
            return;
        }

        if (!File.Exists(Path.Combine(Options.ImagesDirectory, "busybox", "manifest.json")))
        {
            Unavailable = $"no busybox image in {Options.ImagesDirectory} (./panel images busybox builds it)";
        }
    }

    /// <summary>
    /// A run that was killed (not failed: failures clean up) leaves containers, mounts, a bridge and
    /// an nftables table behind. Engine tests never run concurrently on one machine, so whatever an
    /// earlier run left is removed here.
    /// </summary>
    private async Task SweepEarlierRunsAsync()
    {
        var runner = ProcessRunner.Instance;
        foreach (var stale in Directory.EnumerateDirectories(Path.GetTempPath(), "vpspanel-engine-test-*"))
        {
            var instances = Path.Combine(stale, "instances");
            if (Directory.Exists(instances))
            {
                foreach (var dir in Directory.EnumerateDirectories(instances))
                {
                    await runner.RunAsync("lxc-stop", ["-P", instances, "-n", Path.GetFileName(dir), "-k"]);
                }
            }

            foreach (var mount in Panel.Hypervisor.Storage.MountTable.MountsUnder(stale))
            {
                await runner.RunAsync("umount", ["-l", mount]);
            }

            await runner.RunAsync("rm", ["-rf", "--one-file-system", "--", stale]);
        }

        foreach (var link in Directory.EnumerateDirectories("/sys/class/net").Select(Path.GetFileName).OfType<string>())
        {
            if (link.StartsWith("vpst", StringComparison.Ordinal))
            {
                await runner.RunAsync("ip", ["link", "del", link]);
            }
        }

        var tables = await runner.RunAsync("nft", ["list", "tables", "bridge"]);
        foreach (var line in tables.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ').Last();
            if (name.StartsWith("vpspanel_t", StringComparison.Ordinal))
            {
                await runner.RunAsync("nft", ["delete", "table", "bridge", name]);
            }
        }
    }

    /// <summary>Skips the calling test (saying why) when the machine lacks what engine tests need.</summary>
    public void RequireEngine()
    {
        if (Unavailable is not null)
        {
            Assert.Skip(Unavailable);
        }
    }

    /// <summary>Skips the calling test when an image other than busybox was not built on this machine.</summary>
    public void RequireImage(string name)
    {
        if (!File.Exists(Path.Combine(Options.ImagesDirectory, name, "manifest.json")))
        {
            Assert.Skip($"no {name} image in {Options.ImagesDirectory} (./panel images {name} builds it)");
        }
    }

    /// <summary>A fresh, valid spec with a unique id, address and MAC.</summary>
    public InstanceSpec NewSpec(string image = "busybox", InstanceLimits? limits = null, GuestAccess? access = null, string? hostname = null)
    {
        var n = Interlocked.Increment(ref next) + 1;
        var id = string.Create(CultureInfo.InvariantCulture, $"t{Suffix}-{n}");
        var baseIp = Network.Gateway.GetAddressBytes();
        var ip = string.Create(CultureInfo.InvariantCulture, $"{baseIp[0]}.{baseIp[1]}.{baseIp[2]}.{n}");
        var mac = string.Create(CultureInfo.InvariantCulture, $"02:00:0a:{baseIp[2]:x2}:00:{n:x2}");
        return new InstanceSpec(
            id,
            hostname ?? $"vps{n}.test.example",
            image,
            limits ?? new InstanceLimits(Vcpus: 1, MemoryBytes: 128L << 20, DiskBytes: 256L << 20, MaxProcesses: 64),
            new NetworkSpec(mac, ip),
            access ?? GuestAccess.None);
    }

    /// <summary>Creates and starts an instance; registers nothing - the fixture deletes every instance at the end.</summary>
    public async Task<InstanceSpec> RunningAsync(InstanceSpec? spec = null)
    {
        spec ??= NewSpec();
        await Lxc.CreateAsync(new CreateOptions(spec));
        await Lxc.StartAsync(new StartOptions(spec.Id));
        return spec;
    }

    /// <summary>Runs a command in a guest and returns its trimmed output, failing the test on a non-zero exit.</summary>
    public async Task<string> ExecAsync(string id, params string[] command)
    {
        var r = await Lxc.ExecAsync(new ExecOptions(id, command));
        r.ExitCode.ShouldBe(0, $"`{string.Join(' ', command)}` in {id}: {r.StdErr}");
        return r.StdOut.Trim();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Lxc is null)
        {
            return;
        }

        foreach (var id in await Lxc.ListAsync(new ListOptions()))
        {
            try
            {
                await Lxc.DeleteAsync(new DeleteOptions(id, Force: true));
            }
            catch (EngineException)
            {
                // keep cleaning the rest
            }
        }

        // Background disk formatting must finish before its folder goes.
        await Lxc.DiskPool.IdleAsync();
        var runner = ProcessRunner.Instance;
        await new AntiSpoofRules(Options.NftTable, runner).DeleteTableAsync();
        await new NodeBridge(Options.BridgeName, Network, runner).DeleteAsync();
        if (Directory.Exists(Options.StateDirectory) && Panel.Hypervisor.Storage.MountTable.MountsUnder(Options.StateDirectory).Count == 0)
        {
            Directory.Delete(Options.StateDirectory, recursive: true);
        }
    }
}

/// <summary>Engine tests share one private engine and run one after another (they load the 2 cores).</summary>
[CollectionDefinition(Name)]
public sealed class EngineCollection : ICollectionFixture<EngineFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "engine";
}
