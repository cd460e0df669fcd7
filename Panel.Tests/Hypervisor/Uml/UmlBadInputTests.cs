using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Uml;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Uml;

/// <summary>Bad requests to the UML driver get a typed error naming the field, and a failure half-way leaves nothing on the host.</summary>
[Collection(EngineCollection.Name)]
public sealed class UmlBadInputTests(EngineFixture engine)
{
    public static TheoryData<string, string> BadSpecs => new()
    {
        { "hostname", "Hostname" },
        { "limits", "Limits.MemoryBytes" },
        { "image", "Image" },
        { "address", "Network.IPv4" },
        { "mac", "Network.MacAddress" },
        { "password", "Access.RootPassword" },
    };

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public async Task Create_WithABadValue_FailsOnThatField_AndLeavesNothing(string what, string field)
    {
        engine.RequireUml();
        var spec = engine.NewSpec();
        spec = what switch
        {
            "hostname" => spec with { Hostname = "bad_host!" },
            "limits" => spec with { Limits = spec.Limits with { MemoryBytes = 1024 } },
            "image" => spec with { Image = "no-such-image" },
            "address" => spec with { Network = spec.Network with { IPv4 = "192.0.2.77" } },
            "mac" => spec with { Network = spec.Network with { MacAddress = "01:00:5e:00:00:01" } },
            "password" => spec with { Access = new GuestAccess("short", []) },
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };

        var ex = await Should.ThrowAsync<EngineException>(() => engine.Uml.CreateAsync(new CreateOptions(spec)));

        ex.Code.ShouldBe(EngineErrorCode.InvalidSpec);
        ex.Field.ShouldBe(field);
        Directory.Exists(Path.Combine(engine.Options.StateDirectory, "uml", spec.Id)).ShouldBeFalse();
    }

    [Fact]
    public async Task Create_WithADuplicateId_IsRefused_AndUnknownIdsSayNotFound()
    {
        engine.RequireUml();
        var spec = engine.NewSpec();
        await engine.Uml.CreateAsync(new CreateOptions(spec));
        try
        {
            var ex = await Should.ThrowAsync<EngineException>(() => engine.Uml.CreateAsync(new CreateOptions(spec with { Hostname = "other" })));
            ex.Code.ShouldBe(EngineErrorCode.AlreadyExists);

            (await Should.ThrowAsync<EngineException>(() => engine.Uml.StartAsync(new StartOptions("nobody-here")))).Code.ShouldBe(EngineErrorCode.NotFound);
            (await engine.Uml.GetStateAsync(new StateOptions("nobody-here"))).Status.ShouldBe(InstanceStatus.Missing);
            (await Should.ThrowAsync<EngineException>(() => engine.Uml.ExecAsync(new ExecOptions(spec.Id, ["true"])))).Code.ShouldBe(EngineErrorCode.InvalidState);
            (await Should.ThrowAsync<EngineException>(() => engine.Uml.CreateSnapshotAsync(new SnapshotOptions(spec.Id, "../x")))).Field.ShouldBe("Snapshot");
            await engine.Uml.DeleteAsync(new DeleteOptions("nobody-here"));
        }
        finally
        {
            await engine.Uml.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
        }
    }

    [Fact]
    public async Task Start_FailingHalfWay_LeavesTheInstanceStoppedWithNothingItAdded()
    {
        engine.RequireUml();
        var spec = engine.NewSpec();
        await engine.Uml.CreateAsync(new CreateOptions(spec));
        try
        {
            // Bringing the TAP device onto the bridge fails after the cgroup and the device exist.
            var driver = new UmlDriver(engine.Options, new FailingRunner(ProcessRunner.Instance, "ip", "master"));

            await Should.ThrowAsync<EngineException>(() => driver.StartAsync(new StartOptions(spec.Id)));

            (await engine.Uml.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Stopped);
            Directory.Exists($"/sys/class/net/{PortName.For(spec.Id)}").ShouldBeFalse();
            Directory.Exists($"/sys/fs/cgroup/pids/vpspanel-uml.{spec.Id}").ShouldBeFalse();
            (await new AntiSpoofRules(engine.Options.NftTable, ProcessRunner.Instance).HasRulesAsync(PortName.For(spec.Id))).ShouldBeFalse();
            await engine.Uml.StartAsync(new StartOptions(spec.Id));
            (await engine.UmlExecAsync(spec.Id, "echo", "ok")).ShouldBe("ok");
        }
        finally
        {
            await engine.Uml.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
        }
    }

    [Fact]
    public async Task Create_FailingHalfWay_UndoesEveryFinishedStep()
    {
        engine.RequireUml();
        var spec = engine.NewSpec(access: new GuestAccess("Passw0rd-123", []));
        // Making the config disk fails after the folder, the base and the COW file exist.
        var driver = new UmlDriver(engine.Options, new FailingRunner(ProcessRunner.Instance, "mkfs.ext4"));

        var ex = await Should.ThrowAsync<EngineException>(() => driver.CreateAsync(new CreateOptions(spec)));

        ex.Code.ShouldBe(EngineErrorCode.HostFailure);
        Directory.Exists(Path.Combine(engine.Options.StateDirectory, "uml", spec.Id)).ShouldBeFalse();
        var bases = Path.Combine(engine.Options.StateDirectory, "uml-bases");
        (Directory.Exists(bases) ? Directory.EnumerateFiles(bases) : []).ShouldBeEmpty();
    }

    /// <summary>The real runner, except that one command (matched by program and an argument) fails.</summary>
    private sealed class FailingRunner(IProcessRunner inner, string program, string? argument = null) : IProcessRunner
    {
        public Task<ProcessResult> RunAsync(string fileName, IReadOnlyList<string> arguments, ProcessRunOptions? options = null, CancellationToken cancellationToken = default)
            => fileName == program && (argument is null || arguments.Contains(argument))
                ? Task.FromResult(new ProcessResult(fileName, arguments, 32, "", "injected failure", TimeSpan.Zero))
                : inner.RunAsync(fileName, arguments, options, cancellationToken);
    }
}
