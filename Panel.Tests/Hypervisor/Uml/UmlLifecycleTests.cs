using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Uml;

/// <summary>UML-only checks (a real User-Mode Linux kernel on this machine): a Debian guest; the lifecycle every driver shares, engine restarts included, is <c>UmlContractTests</c>.</summary>
[Collection(EngineCollection.Name)]
public sealed class UmlLifecycleTests(EngineFixture engine)
{
    [Fact]
    public async Task DebianGuest_BootsWithItsConfigDisk_AndStopsGracefully()
    {
        engine.RequireUml();
        engine.RequireImage("debian-12");
        const string key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBJpkIV5NVu3YUGgGhTR0MdhHN/AR6N/6szKaS6i6Tfu alice@laptop";
        var spec = engine.NewSpec(image: "debian-12", limits: new InstanceLimits(Vcpus: 1, MemoryBytes: 256L << 20, DiskBytes: 512L << 20, MaxProcesses: 256),
            hostname: "deb-uml", access: new GuestAccess("Deb-passw0rd", [key]));
        await engine.RunningUmlAsync(spec);
        try
        {
            (await engine.UmlExecAsync(spec.Id, "hostname")).ShouldBe("deb-uml");
            (await engine.UmlExecAsync(spec.Id, "cat", "/root/.ssh/authorized_keys")).ShouldBe(key);
            (await engine.UmlExecAsync(spec.Id, "cat", "/etc/shadow")).ShouldStartWith("root:$6$");
            (await engine.UmlExecAsync(spec.Id, "sh", "-c", "ip -4 -o addr show eth0")).ShouldContain(spec.Network.IPv4 + "/");
            (await engine.UmlExecAsync(spec.Id, "ping", "-c", "1", "-W", "2", engine.Network.Gateway.ToString())).ShouldContain("1 received");

            await engine.Uml.StopAsync(new StopOptions(spec.Id, TimeSpan.FromSeconds(20)));
            (await engine.Uml.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Stopped);
        }
        finally
        {
            await engine.Uml.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
        }
    }
}
