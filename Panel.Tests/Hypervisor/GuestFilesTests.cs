using Panel.Hypervisor;
using Panel.Hypervisor.Guest;

namespace Panel.Tests.Hypervisor;

public sealed class GuestFilesTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("guestfiles-").FullName;
    private readonly string outside = Directory.CreateTempSubdirectory("outside-").FullName;

    [Fact]
    public void Write_CreatesParentsAndSetsTheMode()
    {
        new GuestFiles(root).Write("/root/.ssh/authorized_keys", "key\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var path = Path.Combine(root, "root/.ssh/authorized_keys");
        File.ReadAllText(path).ShouldBe("key\n");
        File.GetUnixFileMode(path).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Fact]
    public void Write_RefusesADirectoryLinkOnTheWay()
    {
        Directory.CreateDirectory(Path.Combine(root, "root"));
        Directory.CreateSymbolicLink(Path.Combine(root, "root/.ssh"), outside);

        var ex = Should.Throw<EngineException>(() => new GuestFiles(root).Write("/root/.ssh/authorized_keys", "x", UnixFileMode.UserRead));

        ex.Message.ShouldContain("symbolic link");
        Directory.EnumerateFileSystemEntries(outside).ShouldBeEmpty();
    }

    [Fact]
    public void Write_ReplacesAFileLinkInsteadOfWritingThroughIt()
    {
        var victim = Path.Combine(outside, "victim");
        File.WriteAllText(victim, "host");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.CreateSymbolicLink(Path.Combine(root, "etc/hostname"), victim);

        new GuestFiles(root).Write("/etc/hostname", "guest\n", UnixFileMode.UserRead);

        File.ReadAllText(victim).ShouldBe("host");
        File.ReadAllText(Path.Combine(root, "etc/hostname")).ShouldBe("guest\n");
        new FileInfo(Path.Combine(root, "etc/hostname")).LinkTarget.ShouldBeNull();
    }

    [Theory]
    [InlineData("relative/path")]
    [InlineData("/etc/../../escape")]
    public void Write_RefusesPathsThatCouldLeaveTheRoot(string path)
        => Should.Throw<ArgumentException>(() => new GuestFiles(root).Write(path, "x", UnixFileMode.UserRead));

    public void Dispose()
    {
        Directory.Delete(root, true);
        Directory.Delete(outside, true);
    }
}
