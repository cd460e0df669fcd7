using Panel.Hypervisor;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Network;

namespace Panel.Tests.Hypervisor;

public sealed class SpecValidatorTests
{
    private static readonly GuestNetwork Net = new("10.250.0.1/24", "fd00:250::1/64");

    private static InstanceSpec Valid() => new(
        "vps-1",
        "web1.example.com",
        "busybox",
        new InstanceLimits(1, 128L << 20, 1L << 30),
        new NetworkSpec("02:00:0a:fa:00:02", "10.250.0.2"),
        GuestAccess.None);

    [Fact]
    public void Validate_AcceptsAValidSpec() => SpecValidator.Validate(Valid(), Net);

    [Theory]
    [InlineData("", "Id")]
    [InlineData("Vps-1", "Id")]
    [InlineData("1vps", "Id")]
    [InlineData("vps_1", "Id")]
    [InlineData("vps-", "Id")]
    [InlineData("a-very-long-identifier-that-is-way-too-long", "Id")]
    [InlineData("../etc", "Id")]
    public void Validate_RefusesBadIds(string id, string field)
        => Should.Throw<EngineException>(() => SpecValidator.Validate(Valid() with { Id = id }, Net)).Field.ShouldBe(field);

    [Theory]
    [InlineData("")]
    [InlineData("-web")]
    [InlineData("web-")]
    [InlineData("web_1")]
    [InlineData("web..example")]
    [InlineData("web 1")]
    [InlineData("a-host-name-that-is-definitely-longer-than-sixty-three-characters-x")]
    public void Validate_RefusesBadHostnames(string hostname)
    {
        var ex = Should.Throw<EngineException>(() => SpecValidator.Validate(Valid() with { Hostname = hostname }, Net));
        ex.Code.ShouldBe(EngineErrorCode.InvalidSpec);
        ex.Field.ShouldBe("Hostname");
    }

    [Theory]
    [InlineData(0, 128L << 20, 1L << 30, 512, 100, "Limits.Vcpus")]
    [InlineData(1, 1L << 20, 1L << 30, 512, 100, "Limits.MemoryBytes")]
    [InlineData(1, 128L << 20, 1L << 20, 512, 100, "Limits.DiskBytes")]
    [InlineData(1, 128L << 20, 1L << 30, 2, 100, "Limits.MaxProcesses")]
    [InlineData(1, 128L << 20, 1L << 30, 512, 0, "Limits.CpuWeight")]
    public void Validate_RefusesLimitsOutOfRange(int vcpus, long memory, long disk, int procs, int weight, string field)
        => Should.Throw<EngineException>(() => SpecValidator.Validate(Valid() with { Limits = new InstanceLimits(vcpus, memory, disk, procs, weight) }, Net))
            .Field.ShouldBe(field);

    [Theory]
    [InlineData("10.250.1.2", "outside")]
    [InlineData("192.0.2.50", "outside")]
    [InlineData("10.250.0.1", "gateway")]
    [InlineData("10.250.0.0", "network")]
    [InlineData("10.250.0.255", "broadcast")]
    [InlineData("not-an-ip", "not an IPv4")]
    [InlineData("fd00:250::5", "not an IPv4")]
    public void Validate_RefusesAddressesOutsideTheNodesNetwork(string ip, string why)
    {
        var ex = Should.Throw<EngineException>(() => SpecValidator.Validate(Valid() with { Network = new NetworkSpec("02:00:0a:fa:00:02", ip) }, Net));
        ex.Field.ShouldBe("Network.IPv4");
        ex.Message.ShouldContain(why);
    }

    [Theory]
    [InlineData("02:00:0a:fa:00")]
    [InlineData("zz:00:0a:fa:00:02")]
    [InlineData("01:00:0a:fa:00:02")]
    [InlineData("00:16:3e:fa:00:02")]
    public void Validate_RefusesBadOrGlobalOrMulticastMacs(string mac)
        => Should.Throw<EngineException>(() => SpecValidator.Validate(Valid() with { Network = new NetworkSpec(mac, "10.250.0.2") }, Net))
            .Field.ShouldBe("Network.MacAddress");

    [Fact]
    public void Validate_ChecksIPv6AgainstThePrefix()
    {
        SpecValidator.Validate(Valid() with { Network = new NetworkSpec("02:00:0a:fa:00:02", "10.250.0.2", "fd00:250::2") }, Net);
        Should.Throw<EngineException>(() => SpecValidator.Validate(Valid() with { Network = new NetworkSpec("02:00:0a:fa:00:02", "10.250.0.2", "fd00:999::2") }, Net))
            .Field.ShouldBe("Network.IPv6");
    }

    [Theory]
    [InlineData("ssh-ed25519", "not a supported|looks like")]
    [InlineData("ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4Ed", "not a supported")]
    [InlineData("ssh-ed25519 !!!notbase64!!!", "base64")]
    [InlineData("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBJpkIV5NVu3YUGgGhTR0MdhHN/AR6N/6szKaS6i6Tfu", "does not match")]
    public void Validate_RefusesSshKeysThatDoNotParse(string key, string why)
    {
        var ex = Should.Throw<EngineException>(() => SpecValidator.Validate(Valid() with { Access = new GuestAccess(null, [key]) }, Net));
        ex.Field.ShouldBe("Access.SshKeys[0]");
        ex.Message.ShouldMatch(why);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("line\nbreak1")]
    public void Validate_RefusesBadRootPasswords(string password)
        => Should.Throw<EngineException>(() => SpecValidator.Validate(Valid() with { Access = new GuestAccess(password, []) }, Net))
            .Field.ShouldBe("Access.RootPassword");

    [Theory]
    [InlineData("")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("name with space")]
    public void ValidateSnapshotName_RefusesUnsafeNames(string name)
        => Should.Throw<EngineException>(() => SpecValidator.ValidateSnapshotName(name)).Field.ShouldBe("Snapshot");
}
