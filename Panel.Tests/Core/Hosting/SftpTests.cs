using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Panel.Core;
using Panel.Core.Domain.Operations;
using Panel.Core.Hosting;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Hypervisor.Processes;
using Panel.Tests.Infrastructure;
using Panel.Web.Edge;

namespace Panel.Tests.Core.Hosting;

/// <summary>
/// SFTP into a tenant's own space, end to end: real OpenSSH clients (<c>sftp -b</c>, keys made by <c>ssh-keygen</c>,
/// <c>sshpass</c> for the password) through the real SFTP gateway to the sshd in the tenant's real container; what they
/// upload is served by the real edge (curl). Another tenant's key, a wrong password and the chroot's walls hold.
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class SftpTests(NodeHostFixture node)
{
    [Fact]
    public async Task A_tenant_uploads_by_sftp_with_their_key_or_password_into_their_own_chrooted_space_only()
    {
        node.Require();
        RequireTool("sftp");
        RequireTool("sshpass");
        RequireTool("ssh-keygen");
        var ct = TestContext.Current.CancellationToken;
        var alice = await node.NewCustomerAsync();
        var bob = await node.NewCustomerAsync();
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;
        var (keyScope, keys) = node.Resolve<SshKeyService>();
        await using var __ = keyScope;
        var dir = Directory.CreateTempSubdirectory("panel-sftp-");
        var boxes = new List<int>();
        SftpGateway? gateway = null;
        EdgeServer? edge = null;
        try
        {
            var aliceKey = await KeyAsync(dir.FullName, "alice");
            var bobKey = await KeyAsync(dir.FullName, "bob");
            // Alice's key is saved before her space exists: the new container gets it when its provisioning ends.
            await keys.AddAsync(alice, "laptop", await File.ReadAllTextAsync(aliceKey + ".pub", ct), ct);

            var planId = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Sftp " + Guid.NewGuid().ToString("N")[..6], 2, 256L << 20, null, 1, 128L << 20, 1m), ct);
            var tag = Guid.NewGuid().ToString("N")[..8];
            var a = await hosting.AddSiteAsync(alice, new AddSiteRequest($"sftp-a-{tag}.test", PlanId: planId), ct);
            var b = await hosting.AddSiteAsync(bob, new AddSiteRequest($"sftp-b-{tag}.test", PlanId: planId), ct);
            foreach (var tenant in new[] { alice, bob })
            {
                await using var db = node.Database.CreateContext();
                var vpsId = await db.HostingSpaces.Where(s => s.OwnerId == tenant.UserId).Select(s => s.VpsId!.Value).SingleAsync(ct);
                boxes.Add(vpsId);
                var provision = await db.Operations.Where(o => o.VpsId == vpsId && o.Kind == OperationKind.Provision).Select(o => o.Id).SingleAsync(ct);
                (await node.WaitAsync(provision)).Status.ShouldBe(OperationStatus.Succeeded);
            }

            // Bob's key is saved once his container runs: the change is written into it at once.
            await keys.AddAsync(bob, "desktop", await File.ReadAllTextAsync(bobKey + ".pub", ct), ct);
            var aliceSpace = (await hosting.SpaceAsync(alice, ct))!;
            var bobSpace = (await hosting.SpaceAsync(bob, ct))!;
            aliceSpace.SftpPort.ShouldBeGreaterThanOrEqualTo(node.Options.Edge.SftpFirstPort);
            aliceSpace.SftpPort.ShouldNotBe(bobSpace.SftpPort);
            aliceSpace.SftpCommand.ShouldBe($"sftp -P {aliceSpace.SftpPort} web@127.0.0.1");
            aliceSpace.SftpPasswordSet.ShouldBeFalse();

            // The container's sshd has host keys of its own (none shipped in the image), and the site servers run as web.
            var aliceBox = await node.VpsAsync(boxes[0]);
            var bobBox = await node.VpsAsync(boxes[1]);
            var fingerprints = new List<string>();
            foreach (var box in new[] { aliceBox, bobBox })
            {
                var r = await node.Lxc.ExecAsync(new ExecOptions(box.EngineId, ["sh", "-c", "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub; ps -o user= -C httpd"]), ct);
                r.ExitCode.ShouldBe(0, r.StdErr);
                var lines = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                fingerprints.Add(lines[0]);
                lines.Skip(1).ShouldNotBeEmpty("a static site's httpd runs");
                lines.Skip(1).ShouldAllBe(u => u.Trim() == "web");
            }

            fingerprints[0].ShouldNotBe(fingerprints[1]);

            var http = HostingTests.FreePort();
            var edgeOptions = new PanelOptions { Edge = { HttpUrl = $"http://127.0.0.1:{http}", HttpsUrl = "", ReloadSeconds = 3600 } };
            edge = HostingTests.NewEdge(node, edgeOptions);
            await edge.StartAsync(ct);
            gateway = new SftpGateway(node.Services.GetRequiredService<EdgeDirectory>(), node.Services.GetRequiredService<EdgeSignal>(),
                node.Services.GetRequiredService<Hangfire.IBackgroundJobClient>(),
                new PanelOptions { Edge = { SftpAddress = "127.0.0.1", ReloadSeconds = 3600 }, Jobs = { NodeName = node.Options.Jobs.NodeName } }, NullLogger<SftpGateway>.Instance);
            await gateway.StartAsync(ct);
            gateway.Ports.ShouldContainKey(aliceSpace.SftpPort);
            gateway.Ports[aliceSpace.SftpPort].ShouldNotBeNull("the running container's address");

            // Alice, with her key: uploads into her site's folder, and the edge serves it.
            var page = Path.Combine(dir.FullName, "index.html");
            await File.WriteAllTextAsync(page, $"<h1>by sftp {tag}</h1>", ct);
            var put = await SftpAsync(aliceSpace.SftpPort, $"cd {a.Id}\nput {page} index.html\nls -l\n", key: aliceKey);
            put.ExitCode.ShouldBe(0, put.StdErr);
            put.StdOut.ShouldContain("index.html");
            (await HostingTests.CurlAsync(a.Domain, http, "/")).ShouldBe((200, $"<h1>by sftp {tag}</h1>"));
            // The session's end has the space measured again (a job on the node's queue): the site's figure is what SFTP put there.
            await UntilContentAsync(a.Id, System.Text.Encoding.UTF8.GetByteCount($"<h1>by sftp {tag}</h1>"));

            // The chroot: "/" and ".." are the sites' root, which holds only her site folders - no /etc, no other tenant's.
            var look = await SftpAsync(aliceSpace.SftpPort, "cd ..\npwd\nls -1 /\ncd /etc\n", key: aliceKey);
            look.StdOut.ShouldContain("Remote working directory: /");
            var listed = look.StdOut.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("sftp>", StringComparison.Ordinal) && !l.StartsWith("Remote", StringComparison.Ordinal)).ToList();
            listed.ShouldBe([$"/{a.Id}"]);
            look.ExitCode.ShouldNotBe(0, "cd /etc fails: there is no /etc in the chroot");
            // No shell either: the session is SFTP only.
            var shell = await ProcessRunner.Instance.RunAsync("ssh", ["-n", .. SshOptions(aliceKey), "-p", aliceSpace.SftpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "web@127.0.0.1", "cat /etc/passwd"],
                new ProcessRunOptions(TimeSpan.FromSeconds(30)), ct);
            shell.StdOut.ShouldNotContain("root:");

            // Bob's key is refused on Alice's port (and works on his own).
            (await SftpAsync(aliceSpace.SftpPort, "ls\n", key: bobKey)).ExitCode.ShouldNotBe(0);
            (await SftpAsync(bobSpace.SftpPort, $"cd {b.Id}\nls\n", key: bobKey)).ExitCode.ShouldBe(0);

            // A password: refused when short, set on stdin (the panel keeps only the container's hash), then it logs in.
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.SetSftpPasswordAsync(alice, "short", ct))).Field.ShouldBe("Password");
            var password = "Pa ss:" + Guid.NewGuid().ToString("N")[..10];
            (await hosting.SetSftpPasswordAsync(alice, password, ct)).SftpPasswordSet.ShouldBeTrue();
            await using (var db = node.Database.CreateContext())
            {
                var hash = await db.HostingSpaces.Where(s => s.OwnerId == alice.UserId).Select(s => s.SftpPasswordHash).SingleAsync(ct);
                hash.ShouldNotBeNull().ShouldStartWith("$");
                hash.ShouldNotContain(password);
            }

            await File.WriteAllTextAsync(page, $"<h1>by password {tag}</h1>", ct);
            var byPassword = await SftpAsync(aliceSpace.SftpPort, $"cd {a.Id}\nput {page} index.html\n", password: password);
            byPassword.ExitCode.ShouldBe(0, byPassword.StdErr);
            (await HostingTests.CurlAsync(a.Domain, http, "/")).ShouldBe((200, $"<h1>by password {tag}</h1>"));
            (await SftpAsync(aliceSpace.SftpPort, "ls\n", password: password + "x")).ExitCode.ShouldNotBe(0);
            (await SftpAsync(bobSpace.SftpPort, "ls\n", password: password)).ExitCode.ShouldNotBe(0);

            // Cleared: keys only again.
            (await hosting.SetSftpPasswordAsync(alice, null, ct)).SftpPasswordSet.ShouldBeFalse();
            (await SftpAsync(aliceSpace.SftpPort, "ls\n", password: password)).ExitCode.ShouldNotBe(0);

            // A deleted key no longer gets in.
            var bobKeyId = (await keys.ListAsync(bob, ct)).Single().Id;
            await keys.DeleteAsync(bob, bobKeyId, ct);
            (await SftpAsync(bobSpace.SftpPort, "ls\n", key: bobKey)).ExitCode.ShouldNotBe(0);
        }
        finally
        {
            if (gateway is not null)
            {
                await gateway.DisposeAsync();
            }

            if (edge is not null)
            {
                await edge.StopAsync(CancellationToken.None);
                await edge.DisposeAsync();
            }

            dir.Delete(recursive: true);
            var (vpsScope, vpses) = node.Resolve<VpsService>();
            await using (vpsScope)
            {
                foreach (var id in boxes)
                {
                    (await node.WaitAsync(await vpses.DeleteAsync(Actor.System, id))).Status.ShouldBe(OperationStatus.Succeeded);
                }
            }

            foreach (var tenant in new[] { alice, bob })
            {
                await hosting.TerminateAsync(Actor.System, tenant.UserId!.Value, "test over");
            }
        }
    }

    /// <summary>Polls (up to 20 s) until the site's recorded content is <paramref name="bytes"/>.</summary>
    private async Task UntilContentAsync(int siteId, long bytes)
    {
        long last = -1;
        for (var i = 0; i < 100; i++)
        {
            await using var db = node.Database.CreateContext();
            last = await db.Sites.Where(s => s.Id == siteId).Select(s => s.ContentBytes).SingleAsync();
            if (last == bytes)
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new ShouldAssertException($"site {siteId}: content {last} bytes after 20 s, expected {bytes}");
    }

    internal static void RequireTool(string name)
    {
        if (!File.Exists("/usr/bin/" + name))
        {
            Assert.Skip($"{name} is not installed (./panel test installs openssh-client and sshpass)");
        }
    }

    private static async Task<string> KeyAsync(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        var r = await ProcessRunner.Instance.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name + "@test", "-f", path]);
        r.ExitCode.ShouldBe(0, r.StdErr);
        return path;
    }

    private static string[] SshOptions(string? key) =>
    [
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
        .. key is null
            ? new[] { "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1" }
            : ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no", "-i", key],
    ];

    /// <summary>Runs <c>sftp -b</c> with these commands against the gateway port, with a key or (through sshpass, from its environment) a password.</summary>
    internal static async Task<ProcessResult> SftpAsync(int port, string commands, string? key = null, string? password = null)
    {
        var batch = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(batch, commands);
            // BatchMode=no comes before -b (ssh takes an option's first value), so sshpass can answer the password prompt.
            string[] sftp = ["sftp", .. SshOptions(key), "-P", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-b", batch, "web@127.0.0.1"];
            var sw = Stopwatch.StartNew();
            var r = password is null
                ? await ProcessRunner.Instance.RunAsync(sftp[0], sftp[1..], new ProcessRunOptions(TimeSpan.FromSeconds(60)))
                : await ProcessRunner.Instance.RunAsync("sshpass", ["-e", .. sftp], new ProcessRunOptions(TimeSpan.FromSeconds(60), Environment: new Dictionary<string, string> { ["SSHPASS"] = password }));
            TestContext.Current.TestOutputHelper?.WriteLine($"sftp -P {port} ({(key is null ? "password" : "key")}) {sw.ElapsedMilliseconds} ms, exit {r.ExitCode}: {r.StdOut} {r.StdErr}");
            return r;
        }
        finally
        {
            File.Delete(batch);
        }
    }
}
