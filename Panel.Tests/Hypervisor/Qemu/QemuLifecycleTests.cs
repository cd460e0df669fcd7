using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Qemu;

/// <summary>QEMU-only checks against real QEMU (TCG here): the accelerator probe; the lifecycle every driver shares, engine restarts included, is <c>QemuContractTests</c>.</summary>
[Collection(EngineCollection.Name)]
public sealed class QemuLifecycleTests(EngineFixture engine)
{
    [Fact]
    public async Task Probe_SaysWhichAcceleratorGuestsGet_AndWhyNotKvm()
    {
        engine.RequireQemu();

        var info = await engine.Qemu.ProbeAsync(new ProbeOptions());

        info.Usable.ShouldBeTrue(info.Reason);
        info.Kind.ShouldBe(VirtualizationKind.FullVm);
        info.Version.ShouldNotBeNull().ShouldContain("QEMU");
        info.Features.ShouldContain(f => f.StartsWith("kernel:", StringComparison.Ordinal));
        var cpuHasVirtualization = File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags", StringComparison.Ordinal) && (l.Contains(" vmx", StringComparison.Ordinal) || l.Contains(" svm", StringComparison.Ordinal)));
        if (!cpuHasVirtualization)
        {
            // This kind of machine: /dev/kvm may exist, but KVM cannot run guests.
            info.Features.ShouldContain("accel:tcg");
            info.Reason.ShouldNotBeNull().ShouldContain("KVM is not usable");
            info.Reason.ShouldContain("TCG");
        }
        else
        {
            info.Features.ShouldContain(f => f == "accel:kvm" || f == "accel:tcg");
        }
    }
}
