using System.Globalization;
using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Drivers.Qemu;
using Panel.Hypervisor.Drivers.Uml;
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
    public EngineOptions Options { get; } = PrivateOptions(Suffix);

    /// <summary>
    /// A private engine's options: state folder, bridge, subnet and nftables table named so that
    /// <see cref="SweepEarlierRunsAsync"/> finds whatever a killed run left.
    /// </summary>
    public static EngineOptions PrivateOptions(string suffix) => new()
    {
        StateDirectory = Path.Combine(Path.GetTempPath(), "vpspanel-engine-test-" + suffix),
        ImagesDirectory = Path.Combine(Environment.GetEnvironmentVariable("PANEL_STATE_DIR") ?? "/var/lib/vpspanel", "images"),
        BridgeName = "vpst" + suffix,
        BridgeCidr = string.Create(CultureInfo.InvariantCulture, $"10.251.{Random.Shared.Next(1, 254)}.1/24"),
        NftTable = "vpspanel_t" + suffix,
    };

    /// <summary>Why engine tests cannot run here (not root, LXC missing), or null.</summary>
    public string? Unavailable { get; private set; }

    /// <summary>The LXC driver.</summary>
    public LxcDriver Lxc { get; private set; } = default!;

    /// <summary>The User-Mode Linux driver (same state folder, bridge and table).</summary>
    public UmlDriver Uml { get; private set; } = default!;

    /// <summary>Why UML tests cannot run here, or null.</summary>
    public string? UmlUnavailable { get; private set; }

    /// <summary>The QEMU driver (over the same state folder, bridge and table).</summary>
    public QemuDriver Qemu { get; private set; } = default!;

    /// <summary>Why QEMU tests cannot run here (QEMU or the guest kernel missing), or null.</summary>
    public string? QemuUnavailable { get; private set; }

    /// <summary>The guest network of the test bridge.</summary>
    public GuestNetwork Network => Lxc.Network;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await SweepEarlierRunsAsync();
        Lxc = new LxcDriver(Options);
        Uml = new UmlDriver(Options);
        var uml = await Uml.ProbeAsync(new ProbeOptions());
        UmlUnavailable = uml.Usable ? null : $"the UML driver cannot run here: {uml.Reason}";
        Qemu = new QemuDriver(Options);
        var qemuInfo = await Qemu.ProbeAsync(new ProbeOptions());
        QemuUnavailable = qemuInfo.Usable ? null : $"the QEMU driver cannot run here: {qemuInfo.Reason}";
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
    public static async Task SweepEarlierRunsAsync()
    {
        var runner = ProcessRunner.Instance;
        foreach (var stale in Directory.EnumerateDirectories(Path.GetTempPath(), "vpspanel-engine-test-*"))
        {
            var umlInstances = Path.Combine(stale, "uml");
            if (Directory.Exists(umlInstances))
            {
                foreach (var dir in Directory.EnumerateDirectories(umlInstances))
                {
                    await SweepUmlAsync(Path.GetFileName(dir));
                }
            }

            // QEMU guests of a killed run: their pid files name them (checked against /proc, never by name).
            var vms = Path.Combine(stale, "qemu");
            foreach (var pidFile in Directory.Exists(vms) ? Directory.EnumerateFiles(vms, "qemu.pid", SearchOption.AllDirectories) : [])
            {
                if (int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid)
                    && File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains(pidFile, StringComparison.Ordinal))
                {
                    System.Diagnostics.Process.GetProcessById(pid).Kill();
                    await Task.Delay(200);
                }
            }

            foreach (var cg in Directory.EnumerateDirectories("/sys/fs/cgroup").SelectMany(c => Directory.EnumerateDirectories(c, "vpsqemu.t*")))
            {
                try
                {
                    Directory.Delete(cg);
                }
                catch (IOException)
                {
                }
            }

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

    /// <summary>Kills a UML guest a killed run left (every task of its cgroup) and removes its cgroup and TAP device.</summary>
    private static async Task SweepUmlAsync(string id)
    {
        var name = "vpspanel-uml." + id;
        foreach (var controller in new[] { "freezer", "pids", "memory", "cpu", "cpuacct" })
        {
            var dir = Path.Combine("/sys/fs/cgroup", controller, name);
            if (!Directory.Exists(dir))
            {
                continue;
            }

            if (controller == "freezer")
            {
                await File.WriteAllTextAsync(Path.Combine(dir, "freezer.state"), "THAWED");
            }

            for (var i = 0; i < 50 && File.ReadAllText(Path.Combine(dir, "tasks")).Trim().Length > 0; i++)
            {
                foreach (var task in File.ReadAllLines(Path.Combine(dir, "tasks")))
                {
                    await ProcessRunner.Instance.RunAsync("kill", ["-9", task]);
                }

                await Task.Delay(50);
            }

            Directory.Delete(dir);
        }

        await ProcessRunner.Instance.RunAsync("ip", ["link", "del", PortName.For(id)]);
    }

    /// <summary>Skips the calling test (saying why) when the machine lacks QEMU or its guest kernel.</summary>
    public void RequireQemu()
    {
        RequireEngine();
        if (QemuUnavailable is not null)
        {
            Assert.Skip(QemuUnavailable);
        }
    }

    /// <summary>Creates and starts a QEMU guest; the fixture deletes every instance at the end.</summary>
    public async Task<InstanceSpec> RunningVmAsync(InstanceSpec? spec = null)
    {
        spec ??= NewSpec();
        await Qemu.CreateAsync(new CreateOptions(spec));
        try
        {
            await Qemu.StartAsync(new StartOptions(spec.Id));
        }
        catch
        {
            // A guest that did not come up is not left behind for the next test to trip over.
            await Qemu.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
            throw;
        }

        return spec;
    }

    /// <summary>
    /// Two running QEMU guests A and B shared by the isolation tests (TCG boots cost seconds); the
    /// tests leave them as they found them, and the fixture deletes them at the end.
    /// </summary>
    public Task<(InstanceSpec A, InstanceSpec B)> VmPairAsync() => vmPair ??= CreateVmPairAsync();

    private Task<(InstanceSpec A, InstanceSpec B)>? vmPair;

    private async Task<(InstanceSpec A, InstanceSpec B)> CreateVmPairAsync()
    {
        var limits = new InstanceLimits(Vcpus: 1, MemoryBytes: 128L << 20, DiskBytes: 160L << 20, MaxProcesses: 64);
        var a = NewSpec(hostname: "tenant-a", limits: limits);
        var b = NewSpec(hostname: "tenant-b", limits: limits);
        await Qemu.CreateAsync(new CreateOptions(a));
        await Qemu.CreateAsync(new CreateOptions(b));
        // Both boot at once: two cores, two TCG guests.
        await Task.WhenAll(Qemu.StartAsync(new StartOptions(a.Id)), Qemu.StartAsync(new StartOptions(b.Id)));
        return (a, b);
    }

    /// <summary>Runs a command in a QEMU guest and returns its trimmed output, failing the test on a non-zero exit.</summary>
    public async Task<string> VmExecAsync(string id, params string[] command)
    {
        var r = await Qemu.ExecAsync(new ExecOptions(id, command));
        r.ExitCode.ShouldBe(0, $"`{string.Join(' ', command)}` in {id}: {r.StdErr}");
        return r.StdOut.Trim();
    }

    /// <summary>Skips the calling test (saying why) when the machine lacks what engine tests need.</summary>
    public void RequireEngine()
    {
        if (Unavailable is not null)
        {
            Assert.Skip(Unavailable);
        }
    }

    /// <summary>Skips the calling test when UML cannot run here (never in CI, where ./panel test installs it).</summary>
    public void RequireUml()
    {
        RequireEngine();
        if (UmlUnavailable is not null)
        {
            Assert.Skip(UmlUnavailable);
        }
    }

    /// <summary>Creates and starts a UML guest.</summary>
    public async Task<InstanceSpec> RunningUmlAsync(InstanceSpec? spec = null)
    {
        spec ??= NewSpec();
        await Uml.CreateAsync(new CreateOptions(spec));
        try
        {
            await Uml.StartAsync(new StartOptions(spec.Id));
        }
        catch
        {
            // A guest that did not come up is not left behind for the next test to trip over.
            await Uml.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
            throw;
        }

        return spec;
    }

    /// <summary>Runs a command in a UML guest and returns its trimmed output, failing the test on a non-zero exit.</summary>
    public async Task<string> UmlExecAsync(string id, params string[] command)
    {
        var r = await Uml.ExecAsync(new ExecOptions(id, command));
        r.ExitCode.ShouldBe(0, $"`{string.Join(' ', command)}` in {id}: {r.StdErr}");
        return r.StdOut.Trim();
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

        var qemu = Qemu;
        foreach (var id in qemu is null ? [] : await qemu.ListAsync(new ListOptions()))
        {
            try
            {
                await qemu!.DeleteAsync(new DeleteOptions(id, Force: true));
            }
            catch (EngineException)
            {
                // keep cleaning the rest
            }
        }

        if (Uml is not null)
        {
            foreach (var id in await Uml.ListAsync(new ListOptions()))
            {
                try
                {
                    await Uml.DeleteAsync(new DeleteOptions(id, Force: true));
                }
                catch (EngineException)
                {
                    await SweepUmlAsync(id);
                }
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
