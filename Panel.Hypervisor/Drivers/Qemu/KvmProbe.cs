using System.Collections.Concurrent;
using System.Text.Json;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Drivers.Qemu;

/// <summary>Which accelerator QEMU guests use on this host, and why.</summary>
/// <param name="Kvm">Whether KVM works (a test boot under KVM finished).</param>
/// <param name="Reason">Why KVM is not used, or null when it is.</param>
/// <param name="TcgWorks">Whether the same test boot finished under TCG (software emulation).</param>
/// <param name="TcgReason">Why TCG failed, or null.</param>
public sealed record AcceleratorProbe(bool Kvm, string? Reason, bool TcgWorks, string? TcgReason)
{
    /// <summary>The accelerator guests get: <c>kvm</c> or <c>tcg</c>.</summary>
    public string Accelerator => Kvm ? "kvm" : "tcg";
}

/// <summary>
/// Probes KVM with bounded test boots instead of trusting <c>/dev/kvm</c>: on a host whose CPU
/// exposes no vmx/svm (nested virtualization off), <c>/dev/kvm</c> may exist while guests hang
/// and <c>-cpu host</c> aborts. Two steps, each bounded:
/// <list type="number">
/// <item>a 512-byte boot sector that writes to QEMU's <c>isa-debug-exit</c> port, so a working
/// accelerator makes QEMU exit with a known code at once (a hang or an abort: not usable);</item>
/// <item>the guest kernel itself, booted without a root disk to its "cannot mount root" panic
/// (<c>panic=-1</c> and <c>-no-reboot</c> make QEMU exit): some hosts run real-mode code under KVM
/// but hang as soon as the kernel enters long mode, which the boot sector alone does not show.</item>
/// </list>
/// The result is a fact of the running host, so it is cached per process and in
/// <c>/run/vpspanel/kvm-probe.json</c>, keyed by the host's boot id, QEMU and the kernel: the many
/// processes of a node (and of the tests) pay for a hanging KVM boot once per host boot.
/// </summary>
public static class KvmProbe
{
    /// <summary>How long the boot-sector test may take.</summary>
    public static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(4);

    /// <summary>How long the kernel test boot under KVM may take (well under a second where KVM works).</summary>
    public static readonly TimeSpan KernelBootTimeout = TimeSpan.FromSeconds(6);

    /// <summary>Where the host-wide result is kept (tmpfs: gone at reboot; the boot id guards it anyway).</summary>
    public const string CacheFile = "/run/vpspanel/kvm-probe.json";

    // isa-debug-exit makes QEMU exit with (value << 1) | 1: 0x2a gives 85.
    private const int ExpectedExit = (0x2a << 1) | 1;

    private static readonly string[] QemuPaths = ["/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64"];

    private static readonly ConcurrentDictionary<string, Lazy<Task<AcceleratorProbe>>> Cached = new(StringComparer.Ordinal);

    /// <summary>
    /// The cached probe for guests of <paramref name="kernel"/> (null: no guest kernel yet, only the
    /// boot-sector step runs and nothing is written to the host-wide cache).
    /// </summary>
    public static Task<AcceleratorProbe> GetAsync(string? kernel) =>
        Cached.GetOrAdd(kernel ?? "", k => new Lazy<Task<AcceleratorProbe>>(() => GetOrProbeAsync(k.Length == 0 ? null : k))).Value;

    private static async Task<AcceleratorProbe> GetOrProbeAsync(string? kernel)
    {
        var key = kernel is null ? null : HostKey(kernel);
        if (key is not null && ReadCache(key) is { } cached)
        {
            return cached;
        }

        var probe = await RunAsync(ProcessRunner.Instance, kernel, CancellationToken.None);
        if (key is not null)
        {
            WriteCache(key, probe);
        }

        return probe;
    }

    /// <summary>Runs the probe now, bypassing every cache (tests; the driver uses <see cref="GetAsync"/>).</summary>
    public static async Task<AcceleratorProbe> RunAsync(IProcessRunner runner, string? kernel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runner);
        var sector = Path.Combine(Path.GetTempPath(), $"vpspanel-kvm-probe-{Environment.ProcessId}-{Guid.NewGuid():N}.img");
        await File.WriteAllBytesAsync(sector, BootSector(), cancellationToken);
        try
        {
            string? kvmReason = null;
            var kvm = false;
            if (!File.Exists("/dev/kvm"))
            {
                kvmReason = "no /dev/kvm on this host";
            }
            else
            {
                (kvm, kvmReason) = await BootAsync(runner, sector, "kvm", cancellationToken);
                if (kvm && kernel is not null)
                {
                    (kvm, kvmReason) = await BootKernelAsync(runner, kernel, cancellationToken);
                }

                if (!kvm && !CpuHasVirtualization())
                {
                    kvmReason += "; the CPU exposes no vmx/svm flag (nested virtualization is off)";
                }
            }

            var (tcg, tcgReason) = kvm ? (true, null) : await BootAsync(runner, sector, "tcg", cancellationToken);
            return new AcceleratorProbe(kvm, kvm ? null : kvmReason, tcg, tcgReason);
        }
        finally
        {
            File.Delete(sector);
        }
    }

    private static async Task<(bool Ok, string? Reason)> BootKernelAsync(IProcessRunner runner, string kernel, CancellationToken cancellationToken)
    {
        string[] args =
        [
            "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "128",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
            "-kernel", kernel, "-append", "console=ttyS0 panic=-1",
        ];
        ProcessResult r;
        try
        {
            r = await runner.RunAsync("qemu-system-x86_64", args, new ProcessRunOptions(KernelBootTimeout), cancellationToken);
        }
        catch (EngineException ex)
        {
            return (false, ex.Message);
        }

        if (r.ExitCode == 0 && r.StdOut.Contains("Kernel panic", StringComparison.Ordinal))
        {
            return (true, null);
        }

        return (false, r.ExitCode == -1
            ? FormattableString.Invariant($"a boot sector runs under KVM, but the guest kernel did not boot within {KernelBootTimeout.TotalSeconds:0} s")
            : $"a boot sector runs under KVM, but the guest kernel failed (exit {r.ExitCode})");
    }

    private static string? HostKey(string kernel)
    {
        try
        {
            var boot = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            var qemu = QemuPaths.FirstOrDefault(File.Exists);
            var qemuTime = qemu is null ? 0 : File.GetLastWriteTimeUtc(qemu).Ticks;
            return FormattableString.Invariant($"{boot}|{qemu}:{qemuTime}|{kernel}:{File.GetLastWriteTimeUtc(kernel).Ticks}");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private sealed record CacheEntry(string Key, AcceleratorProbe Probe);

    private static AcceleratorProbe? ReadCache(string key)
    {
        try
        {
            var entry = JsonSerializer.Deserialize<CacheEntry>(File.ReadAllText(CacheFile));
            return entry is not null && entry.Key == key ? entry.Probe : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    private static void WriteCache(string key, AcceleratorProbe probe)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(CacheFile)!);
            var temporary = $"{CacheFile}.{Environment.ProcessId}.tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(new CacheEntry(key, probe)));
            File.Move(temporary, CacheFile, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not root, or /run is read-only: every process probes for itself.
        }
    }

    private static async Task<(bool Ok, string? Reason)> BootAsync(IProcessRunner runner, string sector, string accel, CancellationToken cancellationToken)
    {
        string[] args =
        [
            "-machine", $"pc,accel={accel}", .. accel == "kvm" ? new[] { "-cpu", "host" } : [],
            "-m", "16", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x01",
            "-drive", $"file={sector.Replace(",", ",,", StringComparison.Ordinal)},format=raw,if=ide",
        ];
        ProcessResult r;
        try
        {
            r = await runner.RunAsync("qemu-system-x86_64", args, new ProcessRunOptions(BootTimeout), cancellationToken);
        }
        catch (EngineException ex)
        {
            return (false, ex.Message);
        }

        if (r.ExitCode == ExpectedExit)
        {
            return (true, null);
        }

        var detail = (r.StdErr.Length > 0 ? r.StdErr : r.StdOut).Trim().Split('\n').FirstOrDefault(l => l.Length > 0);
        return (false, r.ExitCode == -1
            ? FormattableString.Invariant($"a test boot with accel={accel} did not finish within {BootTimeout.TotalSeconds:0} s")
            : $"a test boot with accel={accel} failed (exit {r.ExitCode}{(detail is null ? "" : ": " + detail)})");
    }

    private static bool CpuHasVirtualization()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags", StringComparison.Ordinal)
                && (l.Contains(" vmx", StringComparison.Ordinal) || l.Contains(" svm", StringComparison.Ordinal)));
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>mov al, 0x2a; out 0xf4, al; hlt; jmp $-1 - then the boot signature.</summary>
    private static byte[] BootSector()
    {
        var s = new byte[512];
        byte[] code = [0xB0, 0x2A, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD];
        code.CopyTo(s, 0);
        s[510] = 0x55;
        s[511] = 0xAA;
        return s;
    }
}
