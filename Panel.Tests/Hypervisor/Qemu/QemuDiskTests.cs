using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Hypervisor.Qemu;

/// <summary>Bad input on QEMU guests (qcow2 overlays over the image's base); snapshots and resizing are in the driver contract (<c>QemuContractTests</c>).</summary>
[Collection(EngineCollection.Name)]
public sealed class QemuDiskTests(EngineFixture engine)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> BadSpecs => new()
    {
        { "memory", "Limits.MemoryBytes" },
        { "disk", "Limits.DiskBytes" },
        { "image", "Image" },
        { "hostname", "Hostname" },
        { "address", "Network.IPv4" },
    };

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public async Task Create_WithABadValue_FailsOnThatField_AndLeavesNothing(string what, string field)
    {
        engine.RequireQemu();
        var spec = engine.NewSpec();
        spec = what switch
        {
            "memory" => spec with { Limits = spec.Limits with { MemoryBytes = 48L << 20 } },
            "disk" => spec with { Limits = spec.Limits with { DiskBytes = 64L << 20 } }, // below the busybox image's disk
            "image" => spec with { Image = "no-such-image" },
            "hostname" => spec with { Hostname = "-bad-" },
            _ => spec with { Network = spec.Network with { IPv4 = "192.0.2.77" } },
        };

        var ex = await Should.ThrowAsync<EngineException>(() => engine.Qemu.CreateAsync(new CreateOptions(spec), Ct));

        ex.Code.ShouldBe(EngineErrorCode.InvalidSpec);
        ex.Field.ShouldBe(field);
        Directory.Exists(Path.Combine(engine.Qemu.VmsDirectory, spec.Id)).ShouldBeFalse();
    }

    [Fact]
    public async Task Operations_OnAMissingOrStoppedGuest_GiveTypedErrors()
    {
        engine.RequireQemu();
        var qemu = engine.Qemu;
        var spec = engine.NewSpec();
        await qemu.CreateAsync(new CreateOptions(spec), Ct);

        (await Should.ThrowAsync<EngineException>(() => qemu.CreateAsync(new CreateOptions(spec), Ct))).Code.ShouldBe(EngineErrorCode.AlreadyExists);
        (await Should.ThrowAsync<EngineException>(() => qemu.StartAsync(new StartOptions("no-such-vm"), Ct))).Code.ShouldBe(EngineErrorCode.NotFound);
        (await Should.ThrowAsync<EngineException>(() => qemu.ExecAsync(new ExecOptions(spec.Id, ["true"]), Ct))).Code.ShouldBe(EngineErrorCode.InvalidState);
        (await Should.ThrowAsync<EngineException>(() => qemu.FreezeAsync(new FreezeOptions(spec.Id), Ct))).Code.ShouldBe(EngineErrorCode.InvalidState);
        (await Should.ThrowAsync<EngineException>(() => qemu.CreateSnapshotAsync(new SnapshotOptions(spec.Id, "1st"), Ct))).Field.ShouldBe("Snapshot");
        (await Should.ThrowAsync<EngineException>(() => qemu.RestoreSnapshotAsync(new SnapshotOptions(spec.Id, "never-taken"), Ct))).Code.ShouldBe(EngineErrorCode.NotFound);
        (await Should.ThrowAsync<EngineException>(() => qemu.ExecAsync(new ExecOptions(spec.Id, []), Ct))).Field.ShouldBe("Command");
        (await Should.ThrowAsync<EngineException>(() => qemu.GetStateAsync(new StateOptions("Bad Id"), Ct))).Field.ShouldBe("Id");
        (await qemu.GetStateAsync(new StateOptions("no-such-vm"), Ct)).Status.ShouldBe(InstanceStatus.Missing);

        await qemu.DeleteAsync(new DeleteOptions(spec.Id), Ct);
        await qemu.DeleteAsync(new DeleteOptions(spec.Id), Ct); // deleting a missing instance does nothing
        Directory.Exists(Path.Combine(qemu.VmsDirectory, spec.Id)).ShouldBeFalse();
    }
}
