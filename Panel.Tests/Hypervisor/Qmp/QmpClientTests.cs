using System.Diagnostics;
using System.Text.Json;
using Panel.Hypervisor.Drivers.Qemu.Qmp;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Qmp;

public sealed class QmpClientTests
{
    private const string Running = """{"running": true, "singlestep": false, "status": "running"}""";
    private const string Paused = """{"running": false, "singlestep": false, "status": "paused"}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Connect_ReadsGreeting_AndLeavesNegotiationMode()
    {
        await using var server = new FakeQmpServer();

        await using var client = await ConnectAsync(server);

        client.IsConnected.ShouldBeTrue();
        client.ServerVersion.ShouldBe(new QmpVersion(7, 2, 0, "Debian 1:7.2+dfsg-7"));
        client.ServerCapabilities.ShouldBe(["oob"]);
        server.Received.Select(r => r.Command).ShouldBe(["qmp_capabilities"]);
    }

    [Fact]
    public async Task Connect_FailsWithConnectionError_WhenNothingListens()
    {
        var path = Path.Combine(Path.GetTempPath(), "panel-qmp-missing-" + Guid.NewGuid().ToString("N") + ".sock");

        var ex = await Should.ThrowAsync<QmpConnectionException>(() => QmpClient.ConnectAsync(path, TimeSpan.FromSeconds(5), Ct));

        ex.Message.ShouldContain(path);
    }

    [Fact]
    public async Task Connect_TimesOut_WhenQemuSendsNoGreeting()
    {
        await using var server = new FakeQmpServer(greeting: null);

        var ex = await Should.ThrowAsync<TimeoutException>(() => QmpClient.ConnectAsync(server.SocketPath, TimeSpan.FromMilliseconds(300), Ct));

        ex.Message.ShouldContain("handshake");
    }

    [Fact]
    public async Task Connect_FailsWithConnectionError_WhenTheGreetingIsNotQmp()
    {
        await using var server = new FakeQmpServer(greeting: """{"hello": "world"}""");

        var ex = await Should.ThrowAsync<QmpConnectionException>(() => ConnectAsync(server));

        ex.Message.ShouldContain("not a QMP monitor");
    }

    [Fact]
    public async Task QueryStatus_ReturnsRunning_WhenQemuSaysRunning()
    {
        await using var server = new FakeQmpServer();
        server.Reply("query-status", Running);
        await using var client = await ConnectAsync(server);

        var status = await client.QueryStatusAsync(Ct);

        status.ShouldBe(new QmpStatus(true, "running"));
    }

    [Fact]
    public async Task QueryStatus_ReturnsPaused_WhenQemuSaysPaused()
    {
        await using var server = new FakeQmpServer();
        server.Reply("query-status", Paused);
        await using var client = await ConnectAsync(server);

        var status = await client.QueryStatusAsync(Ct);

        status.ShouldBe(new QmpStatus(false, "paused"));
    }

    [Fact]
    public async Task ErrorAnswer_BecomesQmpException_WithClassAndDesc()
    {
        await using var server = new FakeQmpServer();
        server.Fail("cont", "GenericError", "Resetting the Virtual Machine is required");
        await using var client = await ConnectAsync(server);

        var ex = await Should.ThrowAsync<QmpException>(() => client.ContAsync(Ct));

        ex.Command.ShouldBe("cont");
        ex.ErrorClass.ShouldBe("GenericError");
        ex.Description.ShouldBe("Resetting the Virtual Machine is required");
        client.IsConnected.ShouldBeTrue();
    }

    [Fact]
    public async Task ConcurrentCommands_AreMatchedById_WhenAnsweredOutOfOrder()
    {
        await using var server = new FakeQmpServer();
        await using var client = await ConnectAsync(server);

        var calls = Enumerable.Range(1, 5).Select(n => client.ExecuteAsync<int>("test-echo", new { n }, cancellationToken: Ct)).ToList();
        var requests = new List<FakeQmpRequest>();
        for (var i = 0; i < calls.Count; i++)
        {
            requests.Add(await server.NextUnansweredAsync());
        }

        requests.Select(r => r.Id).Distinct().Count().ShouldBe(5);
        foreach (var request in Enumerable.Reverse(requests))
        {
            await server.RespondAsync(request, request.Arguments!.Value.GetProperty("n").GetRawText());
        }

        (await Task.WhenAll(calls)).ShouldBe([1, 2, 3, 4, 5]);
    }

    [Fact]
    public async Task TypedCommands_GetTheirOwnAnswers_WhenAnsweredInReverse()
    {
        await using var server = new FakeQmpServer();
        await using var client = await ConnectAsync(server);

        var status = client.QueryStatusAsync(Ct);
        var version = client.QueryVersionAsync(Ct);
        var first = await server.NextUnansweredAsync();
        var second = await server.NextUnansweredAsync();
        var byName = new[] { first, second }.ToDictionary(r => r.Command);
        await server.RespondAsync(byName["query-version"], """{"qemu": {"micro": 1, "minor": 2, "major": 7}, "package": ""}""");
        await server.RespondAsync(byName["query-status"], Paused);

        (await version).ShouldBe(new QmpVersion(7, 2, 1, ""));
        (await status).ShouldBe(new QmpStatus(false, "paused"));
    }

    [Fact]
    public async Task Event_BetweenResponses_IsDelivered()
    {
        await using var server = new FakeQmpServer();
        server.Reply("stop", "{}");
        await using var client = await ConnectAsync(server);

        await client.StopAsync(Ct);
        await server.PushEventAsync("STOP");
        await server.PushEventAsync("SHUTDOWN", """{"guest": true, "reason": "guest-shutdown"}""", 1_700_000_000, 500_000);
        server.Reply("query-status", """{"running": false, "status": "shutdown"}""");
        var status = await client.QueryStatusAsync(Ct);

        status.Status.ShouldBe("shutdown");
        // The reader hands events over in arrival order, before the answer that followed them.
        client.Events.TryRead(out var stop).ShouldBeTrue();
        stop!.Name.ShouldBe(QmpEventNames.Stop);
        stop.Data.ValueKind.ShouldBe(JsonValueKind.Object);
        client.Events.TryRead(out var shutdown).ShouldBeTrue();
        shutdown!.Name.ShouldBe(QmpEventNames.Shutdown);
        shutdown.Data.GetProperty("reason").GetString().ShouldBe("guest-shutdown");
        shutdown.Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddMilliseconds(500));
        client.Events.TryRead(out _).ShouldBeFalse();
    }

    [Fact]
    public async Task ConnectionDrop_FailsPendingCommandFast_AndLaterCommandsAtOnce()
    {
        await using var server = new FakeQmpServer();
        await using var client = await ConnectAsync(server);
        client.CommandTimeout = TimeSpan.FromSeconds(60);
        var status = client.QueryStatusAsync(Ct);
        await server.NextUnansweredAsync();
        var clock = Stopwatch.StartNew();

        server.DropConnection();

        var ex = await Should.ThrowAsync<QmpConnectionException>(status);
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5));
        ex.Message.ShouldContain("'query-status' got no answer");
        client.IsConnected.ShouldBeFalse();
        await client.Events.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        await Should.ThrowAsync<QmpConnectionException>(() => client.SystemResetAsync(Ct));
    }

    [Fact]
    public async Task Command_TimesOut_AndItsLateAnswerDoesNotReachTheNextCommand()
    {
        await using var server = new FakeQmpServer();
        await using var client = await ConnectAsync(server);
        client.CommandTimeout = TimeSpan.FromMilliseconds(200);

        var ex = await Should.ThrowAsync<TimeoutException>(() => client.QueryStatusAsync(Ct));

        ex.Message.ShouldContain("query-status");
        client.IsConnected.ShouldBeTrue();
        client.CommandTimeout = TimeSpan.FromSeconds(10);
        var late = await server.NextUnansweredAsync();
        var next = client.QueryStatusAsync(Ct);
        var nextRequest = await server.NextUnansweredAsync();
        await server.RespondAsync(late, Paused);
        await server.RespondAsync(nextRequest, Running);
        (await next).Status.ShouldBe("running");
    }

    [Fact]
    public async Task Dispose_FailsPendingCommands()
    {
        await using var server = new FakeQmpServer();
        var client = await ConnectAsync(server);
        var status = client.QueryStatusAsync(Ct);
        await server.NextUnansweredAsync();

        await client.DisposeAsync();

        var ex = await Should.ThrowAsync<QmpConnectionException>(status);
        ex.Message.ShouldContain("closed");
        await Should.ThrowAsync<ObjectDisposedException>(() => client.QueryStatusAsync(Ct));
    }

    [Fact]
    public async Task SnapshotSave_SendsSavevm_AndSucceeds_WhenHmpPrintsNothing()
    {
        await using var server = new FakeQmpServer();
        server.Reply("human-monitor-command", "\"\"");
        await using var client = await ConnectAsync(server);

        await client.SnapshotSaveAsync("nightly-1", TimeSpan.FromMinutes(5), Ct);

        var sent = server.Received[^1];
        sent.Command.ShouldBe("human-monitor-command");
        sent.Arguments!.Value.GetProperty("command-line").GetString().ShouldBe("savevm nightly-1");
    }

    [Fact]
    public async Task SnapshotSave_Throws_WhenHmpPrintsAnError()
    {
        await using var server = new FakeQmpServer();
        server.Reply("human-monitor-command", "\"Error: Device 'drive0' is writable but does not support snapshots\\r\\n\"");
        await using var client = await ConnectAsync(server);

        var ex = await Should.ThrowAsync<QmpException>(() => client.SnapshotSaveAsync("nightly", null, Ct));

        ex.Command.ShouldBe("savevm nightly");
        ex.Description.ShouldBe("Error: Device 'drive0' is writable but does not support snapshots");
    }

    [Theory]
    [InlineData("loadvm")]
    [InlineData("delvm")]
    public async Task SnapshotLoadAndDelete_SendTheirHmpVerb(string verb)
    {
        await using var server = new FakeQmpServer();
        server.Reply("human-monitor-command", "\"\"");
        await using var client = await ConnectAsync(server);

        await (verb == "loadvm" ? client.SnapshotLoadAsync("before-upgrade", null, Ct) : client.SnapshotDeleteAsync("before-upgrade", null, Ct));

        server.Received[^1].Arguments!.Value.GetProperty("command-line").GetString().ShouldBe(verb + " before-upgrade");
    }

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("tag\ninfo")]
    [InlineData("1")]
    [InlineData("-dash")]
    public async Task SnapshotSave_RejectsTags_ThatHmpWouldMisread(string tag)
    {
        await using var server = new FakeQmpServer();
        await using var client = await ConnectAsync(server);

        await Should.ThrowAsync<ArgumentException>(() => client.SnapshotSaveAsync(tag, null, Ct));

        server.Received.Select(r => r.Command).ShouldBe(["qmp_capabilities"]);
    }

    [Fact]
    public async Task QueryBlockStats_ReadsCountersPerDevice()
    {
        await using var server = new FakeQmpServer();
        server.Reply("query-blockstats", """
            [
              {"device": "drive0", "node-name": "#block123", "stats": {"rd_bytes": 5368709120, "wr_bytes": 2048, "rd_operations": 300, "wr_operations": 4, "flush_operations": 1}},
              {"device": "", "qdev": "/machine/peripheral/disk1/virtio-backend", "stats": {"rd_bytes": 0, "wr_bytes": 512, "rd_operations": 0, "wr_operations": 1}}
            ]
            """.ReplaceLineEndings(" "));
        await using var client = await ConnectAsync(server);

        var stats = await client.QueryBlockStatsAsync(Ct);

        stats.ShouldBe([
            new QmpBlockStats("drive0", "#block123", 5_368_709_120, 2048, 300, 4),
            new QmpBlockStats("/machine/peripheral/disk1/virtio-backend", null, 0, 512, 0, 1),
        ]);
    }

    [Fact]
    public async Task PowerCommands_SendTheirQmpNames()
    {
        await using var server = new FakeQmpServer();
        foreach (var command in new[] { "system_powerdown", "system_reset", "stop", "cont" })
        {
            server.Reply(command, "{}");
        }

        await using var client = await ConnectAsync(server);

        await client.SystemPowerdownAsync(Ct);
        await client.SystemResetAsync(Ct);
        await client.StopAsync(Ct);
        await client.ContAsync(Ct);

        server.Received.Select(r => r.Command).ShouldBe(["qmp_capabilities", "system_powerdown", "system_reset", "stop", "cont"]);
    }

    [Fact]
    public async Task Quit_Succeeds_WhenQemuExitsBeforeAnswering()
    {
        await using var server = new FakeQmpServer();
        await using var client = await ConnectAsync(server);

        var quit = client.QuitAsync(Ct);
        (await server.NextUnansweredAsync()).Command.ShouldBe("quit");
        server.DropConnection();

        await quit.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        client.IsConnected.ShouldBeFalse();
    }

    [Fact]
    public async Task Execute_WithUnexpectedAnswerShape_ThrowsJsonExceptionNamingTheCommand()
    {
        await using var server = new FakeQmpServer();
        server.Reply("query-status", """{"running": true}""");
        await using var client = await ConnectAsync(server);

        var ex = await Should.ThrowAsync<JsonException>(() => client.QueryStatusAsync(Ct));

        ex.Message.ShouldContain("query-status");
        client.IsConnected.ShouldBeTrue();
    }

    private static Task<QmpClient> ConnectAsync(FakeQmpServer server)
        => QmpClient.ConnectAsync(server.SocketPath, TimeSpan.FromSeconds(5), Ct);
}
