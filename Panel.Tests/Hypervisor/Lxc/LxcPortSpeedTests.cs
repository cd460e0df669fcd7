using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Lxc;

/// <summary>The plan's port speed: a token bucket towards the guest, an nft policer on what it sends; changed live.</summary>
[Collection(EngineCollection.Name)]
public sealed class LxcPortSpeedTests(EngineFixture engine)
{
    [Fact]
    public async Task Port_speed_caps_both_directions_and_changes_live()
    {
        engine.RequireEngine();
        var spec = engine.NewSpec(limits: new InstanceLimits(1, 128L << 20, 256L << 20, 64, PortSpeedMbit: 10));
        await engine.RunningAsync(spec);
        try
        {
            var port = PortName.For(spec.Id);
            (await Tc(port)).ShouldContain("tbf");
            (await Tc(port)).ShouldContain("rate 10Mbit");
            (await Chain(port)).ShouldContain("limit rate over 1250 kbytes/second");

            await engine.Lxc.UpdateLimitsAsync(new UpdateLimitsOptions(spec.Id, spec.Limits with { PortSpeedMbit = 100 }));
            (await Tc(port)).ShouldContain("rate 100Mbit");
            (await Chain(port)).ShouldContain("limit rate over 12500 kbytes/second");
            (await engine.ExecAsync(spec.Id, "hostname")).ShouldBe(spec.Hostname); // still reachable and running

            await engine.Lxc.UpdateLimitsAsync(new UpdateLimitsOptions(spec.Id, spec.Limits with { PortSpeedMbit = null }));
            (await Tc(port)).ShouldNotContain("tbf");
            (await Chain(port)).ShouldNotContain("limit rate");
        }
        finally
        {
            await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
        }
    }

    private static async Task<string> Tc(string port) => (await ProcessRunner.Instance.RunAsync("tc", ["qdisc", "show", "dev", port])).StdOut;

    private async Task<string> Chain(string port)
        => (await ProcessRunner.Instance.RunAsync("nft", ["list", "chain", "bridge", engine.Options.NftTable, "g_" + port])).StdOut;
}
