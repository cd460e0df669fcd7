using Panel.Hypervisor.Guest;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor;

/// <summary>The config disk of kernel-based guests and the in-guest script that applies it (run here on the host's sh).</summary>
public sealed class ConfigDiskTests : IDisposable
{
    private const string Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHtIzHzNAU9EAzkdRmNsrERAUIeQv0qR2cNEoxzb2HSx user@laptop";
    private readonly string dir = Directory.CreateTempSubdirectory("vpspanel-configdisk-").FullName;
    private readonly ProcessRunner runner = ProcessRunner.Instance;

    private static InstanceSpec Spec(string hostname = "web1.example.com")
        => new("vps-1", hostname, "busybox", new InstanceLimits(1, 128L << 20, 256L << 20), new NetworkSpec("02:00:0a:fa:00:05", "10.250.0.5", "fd00:250::5"), GuestAccess.None);

    private async Task<GuestConfig> ConfigAsync(string hostname = "web1.example.com", string? password = "s3cret-Pass")
        => await GuestConfig.ForAsync(Spec(hostname), new GuestAccess(password, [Key]), new GuestNetwork("10.250.0.1/24", "fd00:250::1/64"), new GuestAccessWriter(runner), CancellationToken.None);

    [Fact]
    public async Task The_disk_is_a_labelled_ext4_holding_the_config_files()
    {
        var disk = Path.Combine(dir, "config.img");
        await new ConfigDisk(runner).WriteAsync(disk, await ConfigAsync());

        new FileInfo(disk).Length.ShouldBe(ConfigDisk.SizeBytes);
        (await runner.RunAsync("e2label", [disk])).StdOut.Trim().ShouldBe(ConfigDisk.Label);
        (await Cat(disk, "hostname")).ShouldBe("web1.example.com\n");
        var network = await Cat(disk, "network");
        network.ShouldContain("MAC=02:00:0a:fa:00:05\n");
        network.ShouldContain("IPV4=10.250.0.5/24\n");
        network.ShouldContain("GATEWAY4=10.250.0.1\n");
        network.ShouldContain("IPV6=fd00:250::5/64\n");
        (await Cat(disk, "root-password-hash")).ShouldStartWith("$6$");
        (await Cat(disk, "root-password-hash")).ShouldNotContain("s3cret");
        (await Cat(disk, "authorized_keys")).ShouldBe(Key + "\n");
        Directory.GetFileSystemEntries(dir).ShouldBe([disk]); // no staging folder or temp file left
    }

    [Fact]
    public async Task Keeping_the_guests_access_leaves_out_the_password_and_keys()
    {
        // A restored or cloned disk keeps its own root password and keys: vpspanel-config leaves them alone when the files are absent.
        var config = await ConfigAsync() with { KeepGuestAccess = true };

        config.Files().Keys.Order(StringComparer.Ordinal).ShouldBe(["hostname", "network", "version"]);
    }

    [Fact]
    public async Task Writing_again_replaces_the_disk()
    {
        var disk = Path.Combine(dir, "config.img");
        var configDisk = new ConfigDisk(runner);
        await configDisk.WriteAsync(disk, await ConfigAsync("first.example.com"));
        await configDisk.WriteAsync(disk, await ConfigAsync("second.example.com", password: null));

        (await Cat(disk, "hostname")).ShouldBe("second.example.com\n");
        (await Cat(disk, "root-password-hash")).ShouldBe("*\n");
    }

    [Fact]
    public async Task A_key_that_does_not_parse_is_refused_before_anything_is_written()
    {
        var ex = await Should.ThrowAsync<Panel.Hypervisor.EngineException>(() => GuestConfig.ForAsync(
            Spec(), new GuestAccess(null, ["ssh-rsa not-a-key"]), new GuestNetwork("10.250.0.1/24"), new GuestAccessWriter(runner), CancellationToken.None));
        ex.Field.ShouldBe("Access.SshKeys");
    }

    [Fact]
    public async Task The_guest_script_applies_it_to_a_busybox_root()
    {
        var root = BusyboxRoot();
        var cfg = await ConfigFolder(await ConfigAsync());

        await ApplyAsync(root, cfg);

        File.ReadAllText(Path.Combine(root, "etc/hostname")).ShouldBe("web1.example.com\n");
        var hosts = File.ReadAllText(Path.Combine(root, "etc/hosts"));
        hosts.ShouldContain("127.0.0.1 localhost\n");
        hosts.ShouldContain("127.0.1.1 web1.example.com web1\n");
        hosts.ShouldNotContain("old-name");
        var shadow = File.ReadAllLines(Path.Combine(root, "etc/shadow"));
        shadow.Length.ShouldBe(2);
        shadow[0].ShouldStartWith("root:$6$");
        shadow[0].Split(':').Length.ShouldBe(9);
        shadow[1].ShouldBe("daemon:*:19000:0:99999:7:::");
        File.ReadAllText(Path.Combine(root, "root/.ssh/authorized_keys")).ShouldBe(Key + "\n");
        File.GetUnixFileMode(Path.Combine(root, "root/.ssh")).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var network = File.ReadAllText(Path.Combine(root, "etc/init.d/network"));
        network.ShouldContain("/etc/vpspanel/network");
        File.ReadAllText(Path.Combine(root, "etc/vpspanel/network")).ShouldContain("IPV4=10.250.0.5/24");
        (File.GetUnixFileMode(Path.Combine(root, "etc/init.d/network")) & UnixFileMode.UserExecute).ShouldBe(UnixFileMode.UserExecute);

        // Applied again (every boot): the same result, no duplicated lines.
        await ApplyAsync(root, cfg);
        File.ReadAllLines(Path.Combine(root, "etc/hosts")).Count(l => l.StartsWith("127.0.1.1", StringComparison.Ordinal)).ShouldBe(1);
        File.ReadAllLines(Path.Combine(root, "etc/shadow")).Length.ShouldBe(2);
    }

    [Fact]
    public async Task The_guest_script_writes_ifupdown_config_on_debian()
    {
        var root = BusyboxRoot();
        Directory.CreateDirectory(Path.Combine(root, "sbin"));
        Directory.CreateDirectory(Path.Combine(root, "etc/network"));
        var ifup = Path.Combine(root, "sbin/ifup");
        File.WriteAllText(ifup, "#!/bin/sh\n");
        File.SetUnixFileMode(ifup, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        await ApplyAsync(root, await ConfigFolder(await ConfigAsync()));

        var interfaces = File.ReadAllText(Path.Combine(root, "etc/network/interfaces"));
        interfaces.ShouldContain("iface eth0 inet static\n    address 10.250.0.5/24\n    gateway 10.250.0.1\n");
        interfaces.ShouldContain("iface eth0 inet6 static\n    address fd00:250::5/64\n    gateway fd00:250::1\n");
        File.Exists(Path.Combine(root, "etc/init.d/network")).ShouldBeFalse();
    }

    [Fact]
    public async Task The_guest_script_refuses_a_hash_that_is_not_sha512_crypt_and_leaves_shadow_alone()
    {
        var root = BusyboxRoot();
        var cfg = await ConfigFolder(await ConfigAsync());
        File.WriteAllText(Path.Combine(cfg, "root-password-hash"), "plaintext\n");
        var before = File.ReadAllText(Path.Combine(root, "etc/shadow"));

        var r = await runner.RunAsync("sh", [Script, root, cfg]);

        r.ExitCode.ShouldNotBe(0);
        r.StdErr.ShouldContain("SHA-512");
        File.ReadAllText(Path.Combine(root, "etc/shadow")).ShouldBe(before);
    }

    private static string Script => Path.Combine(TestEnvironment.RepositoryRoot, "scripts", "guest", "vpspanel-config");

    private async Task ApplyAsync(string root, string cfg)
    {
        var r = await runner.RunAsync("sh", [Script, root, cfg]);
        r.ExitCode.ShouldBe(0, r.StdErr);
    }

    private string BusyboxRoot()
    {
        var root = Path.Combine(dir, "root-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc/hosts"), "127.0.0.1 localhost\n127.0.1.1 old-name\n");
        File.WriteAllText(Path.Combine(root, "etc/shadow"), "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n");
        return root;
    }

    private async Task<string> ConfigFolder(GuestConfig config)
    {
        var cfg = Path.Combine(dir, "cfg-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(cfg);
        foreach (var (name, content) in config.Files())
        {
            await File.WriteAllTextAsync(Path.Combine(cfg, name), content);
        }

        return cfg;
    }

    private async Task<string> Cat(string disk, string file)
        => (await runner.RunAsync("debugfs", ["-R", "cat /" + file, disk])).StdOut;

    public void Dispose() => Directory.Delete(dir, recursive: true);
}
