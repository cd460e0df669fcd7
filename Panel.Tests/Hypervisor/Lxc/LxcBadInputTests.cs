using Panel.Hypervisor;
using Panel.Hypervisor.Drivers.Lxc;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;
using Panel.Hypervisor.Processes;
using Panel.Hypervisor.Storage;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Lxc;

/// <summary>Bad requests get a typed error naming the field, and a failure half-way leaves nothing on the host.</summary>
[Collection(EngineCollection.Name)]
public sealed class LxcBadInputTests(EngineFixture engine)
{
    public static TheoryData<string, string> BadSpecs => new()
    {
        { "hostname", "Hostname" },
        { "limits", "Limits.MemoryBytes" },
        { "image", "Image" },
        { "address", "Network.IPv4" },
        { "sshkey", "Access.SshKeys[0]" },
    };

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public async Task Create_WithABadValue_FailsOnThatField_AndLeavesNothing(string what, string field)
    {
        engine.RequireEngine();
        var spec = engine.NewSpec();
        spec = what switch
        {
            "hostname" => spec with { Hostname = "bad_host!" },
            "limits" => spec with { Limits = spec.Limits with { MemoryBytes = 1024 } },
            "image" => spec with { Image = "no-such-image" },
            "address" => spec with { Network = spec.Network with { IPv4 = "192.0.2.77" } },
            "sshkey" => spec with { Access = new GuestAccess(null, ["ssh-ed25519 garbage"]) },
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };

        var ex = await Should.ThrowAsync<EngineException>(() => engine.Lxc.CreateAsync(new CreateOptions(spec)));

        ex.Code.ShouldBe(EngineErrorCode.InvalidSpec);
        ex.Field.ShouldBe(field);
        Directory.Exists(Path.Combine(engine.Options.InstancesDirectory, spec.Id)).ShouldBeFalse();
    }

    [Fact]
    public async Task Create_WithADuplicateId_IsRefused_AndTheFirstInstanceIsUntouched()
    {
        engine.RequireEngine();
        var spec = engine.NewSpec();
        await engine.Lxc.CreateAsync(new CreateOptions(spec));

        var ex = await Should.ThrowAsync<EngineException>(() => engine.Lxc.CreateAsync(new CreateOptions(spec with { Hostname = "other" })));

        ex.Code.ShouldBe(EngineErrorCode.AlreadyExists);
        await engine.Lxc.StartAsync(new StartOptions(spec.Id));
        (await engine.ExecAsync(spec.Id, "hostname")).ShouldBe(spec.Hostname);
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task Create_FailingHalfWay_UndoesEveryFinishedStep()
    {
        engine.RequireEngine();
        var spec = engine.NewSpec(access: new GuestAccess("Passw0rd-123", []));
        // Hashing the root password fails after the disk, its mounts and the guest files exist.
        var driver = new LxcDriver(engine.Options, new FailingRunner(ProcessRunner.Instance, "openssl"));

        var ex = await Should.ThrowAsync<EngineException>(() => driver.CreateAsync(new CreateOptions(spec)));

        ex.Code.ShouldBe(EngineErrorCode.HostFailure);
        var dir = Path.Combine(engine.Options.InstancesDirectory, spec.Id);
        Directory.Exists(dir).ShouldBeFalse();
        MountTable.MountsUnder(dir).ShouldBeEmpty();
    }

    [Fact]
    public async Task Start_FailingHalfWay_LeavesTheInstanceStoppedWithNoRulesItAdded()
    {
        engine.RequireEngine();
        var spec = engine.NewSpec();
        await engine.Lxc.CreateAsync(new CreateOptions(spec));
        var driver = new LxcDriver(engine.Options, new FailingRunner(ProcessRunner.Instance, "lxc-start"));

        await Should.ThrowAsync<EngineException>(() => driver.StartAsync(new StartOptions(spec.Id)));

        (await engine.Lxc.GetStateAsync(new StateOptions(spec.Id))).Status.ShouldBe(InstanceStatus.Stopped);
        Directory.Exists($"/sys/class/net/{PortName.For(spec.Id)}").ShouldBeFalse();
        (await new AntiSpoofRules(engine.Options.NftTable, ProcessRunner.Instance).HasRulesAsync(PortName.For(spec.Id))).ShouldBeFalse();
        await engine.Lxc.StartAsync(new StartOptions(spec.Id));
        (await engine.ExecAsync(spec.Id, "echo", "ok")).ShouldBe("ok");
        await engine.Lxc.DeleteAsync(new DeleteOptions(spec.Id, Force: true));
    }

    [Fact]
    public async Task Operations_OnAnUnknownInstance_SayNotFound()
    {
        engine.RequireEngine();
        (await Should.ThrowAsync<EngineException>(() => engine.Lxc.StartAsync(new StartOptions("nobody-here")))).Code.ShouldBe(EngineErrorCode.NotFound);
        (await engine.Lxc.GetStateAsync(new StateOptions("nobody-here"))).Status.ShouldBe(InstanceStatus.Missing);
        await engine.Lxc.DeleteAsync(new DeleteOptions("nobody-here"));
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
