using System.Globalization;
using Panel.Hypervisor.Instances;

namespace Panel.Hypervisor.Drivers.Qemu;

/// <summary>The files of one QEMU guest in its instance folder.</summary>
/// <param name="Directory">The instance folder (mode 700).</param>
public sealed record QemuInstancePaths(string Directory)
{
    /// <summary>The stored spec (never the password).</summary>
    public string Spec => Path.Combine(Directory, "spec.json");

    /// <summary>The guest's disk: a qcow2 overlay of the plan's size over the image's base.</summary>
    public string Disk => Path.Combine(Directory, "disk.qcow2");

    /// <summary>The config disk (label <c>vpsconfig</c>), attached read-only.</summary>
    public string ConfigDisk => Path.Combine(Directory, "config.img");

    /// <summary>QEMU's pid file.</summary>
    public string PidFile => Path.Combine(Directory, "qemu.pid");

    /// <summary>The QMP monitor socket.</summary>
    public string Qmp => Path.Combine(Directory, "qmp.sock");

    /// <summary>The serial console socket (the web console).</summary>
    public string Console => Path.Combine(Directory, "console.sock");

    /// <summary>Everything the console printed since QEMU started.</summary>
    public string ConsoleLog => Path.Combine(Directory, "console.log");

    /// <summary>The exec channel socket (a root shell on the guest's virtio console).</summary>
    public string Exec => Path.Combine(Directory, "exec.sock");
}

/// <summary>The guest kernel and initramfs built by <c>./panel images kernels</c>.</summary>
/// <param name="Kernel">The kernel QEMU boots (the unpacked ELF when present, else Debian's vmlinuz).</param>
/// <param name="Initrd">Our initramfs.</param>
/// <param name="Release">The kernel release, e.g. <c>6.1.0-56-amd64</c>.</param>
public sealed record QemuKernel(string Kernel, string Initrd, string Release)
{
    /// <summary>The kernel in <c>IMAGES/kernels/qemu</c>, or null when it was not built.</summary>
    public static QemuKernel? Find(string imagesDirectory)
    {
        var dir = Path.Combine(imagesDirectory, "kernels", "qemu");
        var elf = Path.Combine(dir, "vmlinux");
        var kernel = File.Exists(elf) ? elf : Path.Combine(dir, "vmlinuz");
        var initrd = Path.Combine(dir, "initrd.img");
        if (!File.Exists(kernel) || !File.Exists(initrd))
        {
            return null;
        }

        var release = File.Exists(Path.Combine(dir, "release")) ? File.ReadAllText(Path.Combine(dir, "release")).Trim() : "unknown";
        return new QemuKernel(kernel, initrd, release);
    }
}

/// <summary>Builds the <c>qemu-system-x86_64</c> argument list of a guest (no shell is involved).</summary>
public static class QemuCommandLine
{
    /// <summary>The TCG translation cache in MiB (QEMU's default is 1 GiB, which would all count against the guest's memory cgroup).</summary>
    public const int TcgCacheMiB = 64;

    /// <summary>The drive id of the root disk (QMP block commands and stats use it).</summary>
    public const string RootDrive = "root";

    /// <summary>The arguments for a daemonized guest.</summary>
    public static IReadOnlyList<string> Build(InstanceSpec spec, QemuInstancePaths paths, QemuKernel kernel, string port, bool kvm)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(kernel);
        var memoryMiB = (spec.Limits.MemoryBytes >> 20).ToString(CultureInfo.InvariantCulture);
        List<string> a =
        [
            "-name", "vps-" + spec.Id,
            // q35 boots the PVH kernel ~0.3 s faster under TCG than i440fx.
            "-machine", "q35",
            .. kvm ? (string[])["-accel", "kvm", "-cpu", "host"] : ["-accel", $"tcg,tb-size={TcgCacheMiB}"],
            "-smp", spec.Limits.Vcpus.ToString(CultureInfo.InvariantCulture),
            "-m", memoryMiB,
            "-nodefaults", "-no-user-config", "-display", "none",
            "-daemonize", "-pidfile", paths.PidFile,
            "-kernel", kernel.Kernel, "-initrd", kernel.Initrd,
            "-append", "console=ttyS0 quiet panic=10",
            "-drive", $"file={Escape(paths.Disk)},if=virtio,format=qcow2,id={RootDrive},discard=unmap",
            "-drive", $"file={Escape(paths.ConfigDisk)},if=virtio,format=raw,id=config,readonly=on",
            "-netdev", $"tap,id=net0,ifname={port},script=no,downscript=no",
            "-device", $"virtio-net-pci,netdev=net0,mac={spec.Network.MacAddress.ToLowerInvariant()}",
            "-chardev", $"socket,id=console,path={Escape(paths.Console)},server=on,wait=off,logfile={Escape(paths.ConsoleLog)}",
            "-serial", "chardev:console",
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", $"socket,id=exec,path={Escape(paths.Exec)},server=on,wait=off",
            "-device", "virtconsole,chardev=exec,bus=vser0.0",
            "-qmp", $"unix:{Escape(paths.Qmp)},server=on,wait=off",
        ];
        return a;
    }

    /// <summary>QEMU option values separate keys with commas; a comma inside a value is written twice.</summary>
    private static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);
}
