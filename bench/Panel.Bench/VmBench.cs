using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Panel.Hypervisor;
using Panel.Hypervisor.Backups;
using Panel.Hypervisor.Drivers.Qemu;
using Panel.Hypervisor.Drivers.Uml;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Processes;

namespace Panel.Bench;

/// <summary>
/// The UML and QEMU drivers beside their raw runtimes, in the engine suite's run: a boot to a ready
/// guest by the driver's <c>StartAsync</c> against raw <c>/usr/bin/linux</c> and raw
/// <c>qemu-system-x86_64</c> started by hand with the same kernel, disk and guest arguments, timed to
/// the same readiness signal; a disk snapshot against raw <c>qemu-img snapshot -c</c> of a copy of the
/// same disk; a backup against raw <c>tar --zstd -cSf</c> of the same disk file. Panel and peer
/// alternate so both see the same machine noise. Every process runs from an argument array.
/// </summary>
public static class VmBench
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(120);

    /// <summary>Adds the UML and QEMU rows to <paramref name="rows"/>; removes every guest and peer it made.</summary>
    public static async Task RunAsync(BenchOptions bench, EngineOptions options, string suffix, List<BenchRow> rows, List<string> notes, Dictionary<string, string> machine)
    {
        var runner = ProcessRunner.Instance;
        var raw = Path.Combine(options.StateDirectory, "raw-vm");
        Directory.CreateDirectory(raw);
        var uml = new UmlDriver(options);
        var qemu = new QemuDriver(options);
        var umlInfo = await uml.ProbeAsync(new ProbeOptions());
        var qemuInfo = await qemu.ProbeAsync(new ProbeOptions());
        if (!umlInfo.Usable || !qemuInfo.Usable)
        {
            throw new InvalidOperationException($"UML or QEMU cannot run here: {umlInfo.Reason} {qemuInfo.Reason}");
        }

        machine["uml"] = umlInfo.Version ?? "?";
        machine["qemu"] = (qemuInfo.Version ?? "?") + (qemuInfo.Features.Contains("accel:kvm") ? " (kvm)" : " (tcg)");
        var limits = new InstanceLimits(1, 128L << 20, 256L << 20, 64);
        var u = Spec($"b{suffix}-uml", "bench-uml", "10.252.3.240", "02:00:0a:fc:ff:f0", limits);
        var q = Spec($"b{suffix}-vm", "bench-vm", "10.252.3.241", "02:00:0a:fc:ff:f1", limits);
        var rawUml = new RawUml(Path.Combine(raw, "uml"), "vpsbu" + suffix, runner);
        var rawQemu = new RawQemu(Path.Combine(raw, "qemu"), "vpsbq" + suffix, options.ImagesDirectory, runner);
        var vmIterations = Math.Min(bench.Iterations, 10);
        try
        {
            // UML: the driver's guest and the peer share the kernel, the image base (each its own fresh COW file) and the config disk.
            await uml.CreateAsync(new CreateOptions(u));
            var umlDir = Path.Combine(options.StateDirectory, "uml", u.Id);
            await rawUml.PrepareAsync(umlDir, u);
            await uml.StartAsync(new StartOptions(u.Id)); // warm-up: page cache, bridge, table
            await uml.StopAsync(new StopOptions(u.Id, TimeSpan.Zero));
            await rawUml.StartAsync();
            await rawUml.KillAsync();
            List<double> umlBoot = [], rawUmlBoot = [];
            for (var i = 0; i < bench.Iterations; i++)
            {
                var sw = Stopwatch.StartNew();
                await uml.StartAsync(new StartOptions(u.Id, Ready));
                umlBoot.Add(sw.Elapsed.TotalMilliseconds);
                await uml.StopAsync(new StopOptions(u.Id, TimeSpan.Zero));

                sw.Restart();
                await rawUml.StartAsync();
                rawUmlBoot.Add(sw.Elapsed.TotalMilliseconds);
                await rawUml.KillAsync();
            }

            rows.Add(new BenchRow("UML boot to ready guest", "ms", Stats.Of(umlBoot), Stats.Of(rawUmlBoot), "raw setsid -f /usr/bin/linux (same kernel, base, guest arguments; ready = init opened the exec line)", 1.1));
            await uml.DeleteAsync(new DeleteOptions(u.Id, Force: true));

            // QEMU: the peer boots a copy of the driver's fresh overlay (same base), the same kernel, initrd and config disk.
            await qemu.CreateAsync(new CreateOptions(q));
            var vmDir = Path.Combine(qemu.VmsDirectory, q.Id);
            await rawQemu.PrepareAsync(vmDir, q);
            await qemu.StartAsync(new StartOptions(q.Id, Ready)); // warm-up (and the KVM probe, cached per process)
            await qemu.StopAsync(new StopOptions(q.Id, TimeSpan.Zero));
            await rawQemu.StartAsync();
            await rawQemu.KillAsync();
            List<double> vmBoot = [], rawVmBoot = [];
            for (var i = 0; i < vmIterations; i++)
            {
                var sw = Stopwatch.StartNew();
                await qemu.StartAsync(new StartOptions(q.Id, Ready));
                vmBoot.Add(sw.Elapsed.TotalMilliseconds);
                await qemu.StopAsync(new StopOptions(q.Id, TimeSpan.Zero));

                sw.Restart();
                await rawQemu.StartAsync();
                rawVmBoot.Add(sw.Elapsed.TotalMilliseconds);
                await rawQemu.KillAsync();
            }

            var accel = qemuInfo.Features.Contains("accel:kvm") ? "KVM" : "TCG";
            rows.Add(new BenchRow($"QEMU ({accel}) boot to ready guest", "ms", Stats.Of(vmBoot), Stats.Of(rawVmBoot), "raw qemu-system-x86_64 -daemonize (same kernel, initrd, disk, devices; ready = login: on the serial console)", 1.1));

            // Snapshot of the stopped guest's disk (qcow2 internal) against qemu-img on a copy of the same disk.
            var copy = Path.Combine(raw, "qemu", "snap-copy.qcow2");
            (await runner.RunAsync("cp", ["--sparse=always", Path.Combine(vmDir, "disk.qcow2"), copy])).ThrowIfFailed();
            List<double> snap = [], rawSnap = [];
            for (var i = 0; i < bench.Iterations; i++)
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"b{i}");
                var sw = Stopwatch.StartNew();
                await qemu.CreateSnapshotAsync(new SnapshotOptions(q.Id, name));
                snap.Add(sw.Elapsed.TotalMilliseconds);
                sw.Restart();
                (await runner.RunAsync("qemu-img", ["snapshot", "-c", name, copy])).ThrowIfFailed();
                rawSnap.Add(sw.Elapsed.TotalMilliseconds);
                await qemu.DeleteSnapshotAsync(new SnapshotOptions(q.Id, name));
                (await runner.RunAsync("qemu-img", ["snapshot", "-d", name, copy])).ThrowIfFailed();
            }

            rows.Add(new BenchRow("QEMU snapshot (stopped, disk)", "ms", Stats.Of(snap), Stats.Of(rawSnap), "raw qemu-img snapshot -c on a copy of the same disk", null));

            // Backup of the stopped guest against tar of its disk file.
            var backups = new InstanceBackups(options, new DriverRegistry([qemu]));
            var folder = Path.Combine(raw, "backups");
            Directory.CreateDirectory(folder);
            var tarball = Path.Combine(raw, "qemu", "disk.tar.zst");
            List<double> backup = [], rawBackup = [];
            long archiveBytes = 0, tarBytes = 0;
            for (var i = 0; i < vmIterations; i++)
            {
                var sw = Stopwatch.StartNew();
                var result = await backups.BackupAsync(qemu, new BackupOptions(q.Id, folder));
                backup.Add(sw.Elapsed.TotalMilliseconds);
                archiveBytes = result.SizeBytes;
                File.Delete(result.Archive);
                File.Delete(result.Archive + ".sha256");

                File.Delete(tarball);
                sw.Restart();
                (await runner.RunAsync("tar", ["--zstd", "-cSf", tarball, "-C", vmDir, "disk.qcow2"])).ThrowIfFailed();
                rawBackup.Add(sw.Elapsed.TotalMilliseconds);
                tarBytes = new FileInfo(tarball).Length;
            }

            rows.Add(new BenchRow("QEMU backup (stopped)", "ms", Stats.Of(backup), Stats.Of(rawBackup), "raw tar --zstd -cSf of the same disk file", null));
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"VM boots: {bench.Iterations} UML and {vmIterations} QEMU samples each; the driver's start includes what the raw runtime does not: its cgroup (cgexec) and host user (setpriv) for UML, the TAP device, the nftables anti-spoofing chain, bridge port, tc, the QEMU cgroup, and for QEMU also waiting until the exec channel answers; the peer gets a TAP made once beforehand (UML) or opened by QEMU (same as the driver), no bridge port"));
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"QEMU backup: the panel flattens the overlay and its image base into one standalone qcow2 (qemu-img convert), checksums it, writes a manifest, tars it (zstd, sparse) and checksums the archive ({archiveBytes / 1024} KiB); the peer only tars the overlay file ({tarBytes / 1024} KiB), which needs the node's base to be of any use"));
        }
        finally
        {
            await rawUml.KillAsync();
            await rawQemu.KillAsync();
            await rawUml.CleanupAsync();
            foreach (var (driver, id) in new (IInstanceDriver, string)[] { (uml, u.Id), (qemu, q.Id) })
            {
                try
                {
                    await driver.DeleteAsync(new DeleteOptions(id, Force: true));
                }
                catch (EngineException e)
                {
                    Console.Error.WriteLine($"warning: could not delete {id}: {e.Message}");
                }
            }
        }
    }

    private static InstanceSpec Spec(string id, string hostname, string ip, string mac, InstanceLimits limits)
        => new(id, hostname, "busybox", limits, new NetworkSpec(mac, ip), GuestAccess.None);

    /// <summary>Polls until <paramref name="ready"/> holds, every <paramref name="every"/>; fails after <see cref="Ready"/>.</summary>
    private static async Task WaitAsync(Func<Task<bool>> ready, TimeSpan every, string what)
    {
        var deadline = DateTime.UtcNow + Ready;
        while (!await ready())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(what + " did not become ready");
            }

            await Task.Delay(every);
        }
    }

    /// <summary>
    /// Raw User-Mode Linux: <c>setsid -f /usr/bin/linux</c> with the driver's kernel arguments (its own
    /// umid, folder and COW file over the same base, the same config disk), run as root without a
    /// cgroup or a host user of its own. Ready when the guest's init has opened its exec line
    /// (<c>mconsole config con1</c> names a pts), as the driver waits.
    /// </summary>
    private sealed class RawUml(string dir, string tap, IProcessRunner runner)
    {
        private const string Umid = "rawuml";
        private List<string> arguments = [];
        private Process? starter;

        private string Run => Path.Combine(dir, "run");

        public async Task PrepareAsync(string instanceDir, InstanceSpec spec)
        {
            Directory.CreateDirectory(dir);
            Directory.CreateDirectory(Path.Combine(dir, "hostfs"));
            using var disk = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(instanceDir, "disk.json")));
            var basePath = disk.RootElement.GetProperty("Base").GetString() ?? throw new InvalidOperationException("the UML guest has no shared base");
            var cow = Path.Combine(dir, "disk.cow");
            (await runner.RunAsync("uml_mkcow", ["-f", cow, basePath])).ThrowIfFailed();
            (await runner.RunAsync("cp", [Path.Combine(instanceDir, "config.ext4"), Path.Combine(dir, "config.ext4")])).ThrowIfFailed();
            (await runner.RunAsync("ip", ["tuntap", "add", "dev", tap, "mode", "tap"])).ThrowIfFailed();
            (await runner.RunAsync("ip", ["link", "set", tap, "up"])).ThrowIfFailed();
            arguments =
            [
                $"umid={Umid}",
                $"uml_dir={Run}",
                $"mem={(spec.Limits.MemoryBytes / 1024).ToString(CultureInfo.InvariantCulture)}K",
                $"ubd0={cow},{basePath}",
                $"ubd1r={Path.Combine(dir, "config.ext4")}",
                "root=/dev/ubda",
                "rw",
                "con=null",
                "ssl=null",
                "con0=pts",
                "con1=pts",
                $"eth0=tuntap,{tap},{spec.Network.MacAddress}",
                $"hostfs={Path.Combine(dir, "hostfs")}",
                "vpspanel.exec=tty1",
            ];
        }

        public async Task StartAsync()
        {
            Directory.CreateDirectory(Run);
            var start = new ProcessStartInfo("setsid") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in (string[])["-f", UmlDriver.Kernel, .. arguments])
            {
                start.ArgumentList.Add(a);
            }

            // The kernel keeps the pipes (its early messages): drained and dropped until it is killed.
            starter = Process.Start(start)!;
            starter.OutputDataReceived += (_, _) => { };
            starter.ErrorDataReceived += (_, _) => { };
            starter.BeginOutputReadLine();
            starter.BeginErrorReadLine();
            var mconsole = new Mconsole(Path.Combine(Run, Umid, "mconsole"));
            await WaitAsync(async () =>
            {
                if (!mconsole.Exists)
                {
                    return false;
                }

                try
                {
                    var (ok, text) = await mconsole.TrySendAsync("config con1", TimeSpan.FromSeconds(2));
                    return ok && text.StartsWith("pts:/dev/pts/", StringComparison.Ordinal);
                }
                catch (EngineException)
                {
                    return false; // not answering yet
                }
            }, TimeSpan.FromMilliseconds(50), "raw UML");
        }

        /// <summary>Kills the kernel and every host process it made (its session: setsid made the kernel its leader).</summary>
        public async Task KillAsync()
        {
            var pidFile = Path.Combine(Run, Umid, "pid");
            if (File.Exists(pidFile) && int.TryParse((await File.ReadAllTextAsync(pidFile)).Trim(), CultureInfo.InvariantCulture, out var sid) && sid > 1)
            {
                for (var round = 0; round < 100; round++)
                {
                    var members = SessionMembers(sid);
                    if (members.Count == 0)
                    {
                        break;
                    }

                    foreach (var pid in members)
                    {
                        await runner.RunAsync("kill", ["-9", pid.ToString(CultureInfo.InvariantCulture)]);
                    }

                    await Task.Delay(20);
                }
            }

            starter?.Dispose();
            starter = null;
            if (Directory.Exists(Run))
            {
                Directory.Delete(Run, recursive: true);
            }
        }

        public async Task CleanupAsync()
        {
            if (Directory.Exists($"/sys/class/net/{tap}"))
            {
                await runner.RunAsync("ip", ["link", "del", tap]);
            }
        }

        /// <summary>Live (not zombie) processes of session <paramref name="sid"/>.</summary>
        private static List<int> SessionMembers(int sid)
        {
            var found = new List<int>();
            foreach (var d in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(d), CultureInfo.InvariantCulture, out var pid))
                {
                    continue;
                }

                try
                {
                    var stat = File.ReadAllText(Path.Combine(d, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    // after the name: state ppid pgrp session …
                    if (fields[0] != "Z" && int.Parse(fields[3], CultureInfo.InvariantCulture) == sid)
                    {
                        found.Add(pid);
                    }
                }
                catch (IOException)
                {
                    // exited meanwhile
                }
            }

            return found;
        }
    }

    /// <summary>
    /// Raw QEMU: <c>qemu-system-x86_64 -daemonize</c> with the driver's machine, kernel, initrd, kernel
    /// command line and devices (a copy of the driver's fresh overlay over the same base, the same
    /// config disk, a TAP QEMU opens itself, serial console and exec console on sockets), without the
    /// cgroup, the QMP monitor, the bridge port or the anti-spoofing chain. Ready when the serial
    /// console shows <c>login:</c>, polled as often as the driver polls.
    /// </summary>
    private sealed class RawQemu(string dir, string tap, string imagesDirectory, IProcessRunner runner)
    {
        private List<string> arguments = [];

        private string PidFile => Path.Combine(dir, "qemu.pid");

        private string ConsoleLog => Path.Combine(dir, "console.log");

        public async Task PrepareAsync(string instanceDir, InstanceSpec spec)
        {
            Directory.CreateDirectory(dir);
            (await runner.RunAsync("cp", ["--sparse=always", Path.Combine(instanceDir, "disk.qcow2"), Path.Combine(dir, "disk.qcow2")])).ThrowIfFailed();
            (await runner.RunAsync("cp", ["--sparse=always", Path.Combine(instanceDir, "config.img"), Path.Combine(dir, "config.img")])).ThrowIfFailed();
            var kernel = QemuKernel.Find(imagesDirectory) ?? throw new InvalidOperationException("no QEMU guest kernel");
            arguments =
            [
                "-name", "raw-bench",
                "-machine", "q35",
                "-accel", "tcg,tb-size=64",
                "-smp", "1",
                "-m", (spec.Limits.MemoryBytes >> 20).ToString(CultureInfo.InvariantCulture),
                "-nodefaults", "-no-user-config", "-display", "none",
                "-daemonize", "-pidfile", PidFile,
                "-kernel", kernel.Kernel, "-initrd", kernel.Initrd,
                "-append", "console=ttyS0 quiet panic=10",
                "-drive", $"file={Path.Combine(dir, "disk.qcow2")},if=virtio,format=qcow2,discard=unmap",
                "-drive", $"file={Path.Combine(dir, "config.img")},if=virtio,format=raw,readonly=on",
                "-netdev", $"tap,id=net0,ifname={tap},script=no,downscript=no",
                "-device", $"virtio-net-pci,netdev=net0,mac={spec.Network.MacAddress}",
                "-chardev", $"socket,id=console,path={Path.Combine(dir, "console.sock")},server=on,wait=off,logfile={ConsoleLog}",
                "-serial", "chardev:console",
                "-device", "virtio-serial-pci,id=vser0",
                "-chardev", $"socket,id=exec,path={Path.Combine(dir, "exec.sock")},server=on,wait=off",
                "-device", "virtconsole,chardev=exec,bus=vser0.0",
            ];
        }

        public async Task StartAsync()
        {
            File.Delete(ConsoleLog);
            (await runner.RunAsync("qemu-system-x86_64", arguments, new ProcessRunOptions(TimeSpan.FromSeconds(30)))).ThrowIfFailed();
            await WaitAsync(() => Task.FromResult(File.Exists(ConsoleLog) && File.ReadAllText(ConsoleLog).Contains("login:", StringComparison.Ordinal)),
                TimeSpan.FromMilliseconds(100), "raw QEMU");
        }

        public async Task KillAsync()
        {
            if (!File.Exists(PidFile) || !int.TryParse((await File.ReadAllTextAsync(PidFile)).Trim(), CultureInfo.InvariantCulture, out var pid))
            {
                return;
            }

            // Only our QEMU: its command line names our pid file.
            if (File.Exists($"/proc/{pid}/cmdline") && (await File.ReadAllTextAsync($"/proc/{pid}/cmdline")).Contains(PidFile, StringComparison.Ordinal))
            {
                await runner.RunAsync("kill", ["-9", pid.ToString(CultureInfo.InvariantCulture)]);
                for (var i = 0; i < 200 && File.Exists($"/proc/{pid}/cmdline") && !IsZombie(pid); i++)
                {
                    await Task.Delay(20);
                }
            }

            File.Delete(PidFile);
        }

        private static bool IsZombie(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
            }
            catch (IOException)
            {
                return true;
            }
        }
    }
}
