using Microsoft.Extensions.DependencyInjection;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor;

/// <summary>The registry's shared, cached driver probes (a probe may boot a test guest) with the real drivers.</summary>
public sealed class DriverRegistryTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task A_caller_that_gives_up_does_not_cancel_the_probe_the_next_callers_share()
    {
        // A job cancelled while it waited for a probe (or the node agent stopping mid-heartbeat) once left its
        // cancelled probe in the cache: every later caller - a VPS order among them - failed with "A task was
        // canceled" until the next refresh.
        var registry = new DriverRegistry(Fixture.Services.GetServices<IInstanceDriver>());
        using var gaveUp = new CancellationTokenSource();
        await gaveUp.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => registry.ProbeAllAsync(refresh: true, gaveUp.Token));

        var probes = await registry.ProbeAllAsync(refresh: false, TestContext.Current.CancellationToken);
        probes.Select(p => p.Name).ShouldBe(["lxc", "qemu", "uml"]);
        probes.ShouldAllBe(p => p.Usable || !string.IsNullOrEmpty(p.Reason), "a probe answers usable, or says why not");
        var fresh = await new DriverRegistry(Fixture.Services.GetServices<IInstanceDriver>()).ProbeAllAsync(refresh: true, TestContext.Current.CancellationToken);
        probes.Select(p => (p.Name, p.Usable)).ShouldBe(fresh.Select(p => (p.Name, p.Usable)), "the shared probe's answer is the driver's own");
    }
}
