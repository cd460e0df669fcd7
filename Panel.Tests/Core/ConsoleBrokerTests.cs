using Microsoft.Extensions.Logging.Abstractions;
using Panel.Core;
using Panel.Core.Consoles;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;

namespace Panel.Tests.Core;

/// <summary>The local console broker reaches only this process's node; a guest elsewhere is refused with a sentence.</summary>
public sealed class ConsoleBrokerTests
{
    [Fact]
    public async Task A_server_on_another_node_is_refused_with_the_node_named()
    {
        var options = new PanelOptions();
        options.Jobs.NodeName = "here";
        var broker = new LocalConsoleBroker(new DriverRegistry([]), options, NullLogger<LocalConsoleBroker>.Instance);

        var refused = await Should.ThrowAsync<PanelRefusedException>(() =>
            broker.OpenAsync(new ConsoleTarget(7, "web.example.com", Guid.NewGuid(), "node2", "v0123456789ab", VirtualizationKind.Container), 80, 24));

        refused.Message.ShouldBe("The console of a server on node node2 is not reachable from this panel yet.");
    }

    [Fact]
    public async Task A_panel_that_is_not_a_node_reaches_no_console()
    {
        var options = new PanelOptions();
        options.Jobs.RunServer = false;
        var broker = new LocalConsoleBroker(new DriverRegistry([]), options, NullLogger<LocalConsoleBroker>.Instance);

        var refused = await Should.ThrowAsync<PanelRefusedException>(() =>
            broker.OpenAsync(new ConsoleTarget(7, "web.example.com", Guid.NewGuid(), options.Jobs.NodeName, "v0123456789ab", VirtualizationKind.Container), 80, 24));

        refused.Message.ShouldContain("is not reachable from this panel yet");
    }
}
