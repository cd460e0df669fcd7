using System.Text;
using Microsoft.EntityFrameworkCore;
using Panel.Core;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Hosting;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Hosting;

/// <summary>
/// The sites' file manager on a real tenant container: list, write, rename and delete inside a site's folder;
/// paths that leave it and symbolic links the tenant planted (to the container's root, to their other site) are
/// refused with nothing changed; the plan's disk holds; other tenants get "not found".
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class SiteFilesTests(NodeHostFixture node)
{
    [Fact]
    public async Task Files_are_listed_written_renamed_and_deleted_inside_the_site_and_escapes_and_links_are_refused()
    {
        node.Require();
        var ct = TestContext.Current.CancellationToken;
        var tenant = await node.NewCustomerAsync();
        var stranger = await node.NewCustomerAsync();
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;
        var planId = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Files " + Guid.NewGuid().ToString("N")[..6], 2, 64L << 20, null, 1, 128L << 20, 1m), ct);
        var prefix = "f" + Guid.NewGuid().ToString("N")[..10];
        var site = await hosting.AddSiteAsync(tenant, new AddSiteRequest(prefix + ".test", PlanId: planId), ct);
        int boxId;
        await using (var db = node.Database.CreateContext())
        {
            boxId = await db.HostingSpaces.Where(s => s.OwnerId == tenant.UserId).Select(s => s.VpsId!.Value).SingleAsync(ct);
            var provision = await db.Operations.Where(o => o.VpsId == boxId && o.Kind == OperationKind.Provision).Select(o => o.Id).SingleAsync(ct);
            (await node.WaitAsync(provision)).Status.ShouldBe(OperationStatus.Succeeded);
        }

        var box = await node.VpsAsync(boxId);
        async Task<string> Sh(string command) => (await node.Lxc.ExecAsync(new ExecOptions(box.EngineId, ["sh", "-c", command]), ct)).StdOut.Trim();
        var folder = HostingRuntime.SiteFolder(site.Id);
        try
        {
            (await hosting.FilesAsync(tenant, site.Id, "", ct)).ShouldBeEmpty();

            // Write: the first file makes the folder and its web server serves it; folders are made on the way.
            (await hosting.WriteFileAsync(tenant, site.Id, "", "index.html", Text("hello files"), ct)).ContentBytes.ShouldBe(11);
            (await Sh($"busybox wget -qO- http://127.0.0.1:{site.Port}/")).ShouldBe("hello files");
            await hosting.WriteFileAsync(tenant, site.Id, "docs/deep", "a.txt", Text("abc"), ct);
            await hosting.WriteFileAsync(tenant, site.Id, "/docs/", "hello wörld.txt", Text("ü"), ct);
            var root = await hosting.FilesAsync(tenant, site.Id, null, ct);
            root.Select(e => (e.Name, e.IsFolder)).ShouldBe([("docs", true), ("index.html", false)]);
            root[1].Bytes.ShouldBe(11);
            root[1].ModifiedAt.ShouldBeGreaterThan(DateTime.UtcNow.AddMinutes(-5));
            (await hosting.FilesAsync(tenant, site.Id, "docs", ct)).Select(e => e.Path).ShouldBe(["docs/deep", "docs/hello wörld.txt"]);

            // Rename within its folder; a taken name or a name with a slash is refused.
            await hosting.RenameFileAsync(tenant, site.Id, "docs/deep/a.txt", "b.txt", ct);
            (await hosting.FilesAsync(tenant, site.Id, "docs/deep", ct)).Select(e => e.Name).ShouldBe(["b.txt"]);
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.RenameFileAsync(tenant, site.Id, "docs/deep", "hello wörld.txt", ct))).Message.ShouldContain("exists already");
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.RenameFileAsync(tenant, site.Id, "index.html", "../../x.html", ct))).Field.ShouldBe("NewName");

            // Paths that leave the site folder: refused before anything runs.
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.FilesAsync(tenant, site.Id, "../", ct))).Message.ShouldContain("leaves the site folder");
            await Should.ThrowAsync<PanelRefusedException>(() => hosting.WriteFileAsync(tenant, site.Id, "docs/../../..", "x.html", Text("x"), ct));
            await Should.ThrowAsync<PanelRefusedException>(() => hosting.DeleteFileAsync(tenant, site.Id, "../../../etc", ct));
            await Should.ThrowAsync<PanelRefusedException>(() => hosting.WriteFileAsync(tenant, site.Id, "", "..", Text("x"), ct));
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.DeleteFileAsync(tenant, site.Id, "", ct))).Message.ShouldContain("cannot be deleted");

            // Links the tenant planted (they are root in their container): to its root and to their other site.
            var other = await hosting.AddSiteAsync(tenant, new AddSiteRequest("other-" + prefix + ".test"), ct);
            var otherFolder = HostingRuntime.SiteFolder(other.Id);
            await Sh($"mkdir -p {otherFolder} && echo keep > {otherFolder}/index.html && ln -s / {folder}/rootlink && ln -s {otherFolder} {folder}/docs/sibling && ln -s /etc/passwd {folder}/pw");
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.FilesAsync(tenant, site.Id, "rootlink/etc", ct))).Message.ShouldContain("symbolic link");
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.WriteFileAsync(tenant, site.Id, "docs/sibling", "index.html", Text("evil"), ct))).Message.ShouldContain("symbolic link");
            await Should.ThrowAsync<PanelRefusedException>(() => hosting.WriteFileAsync(tenant, site.Id, "", "pw", Text("evil"), ct));
            await Should.ThrowAsync<PanelRefusedException>(() => hosting.DeleteFileAsync(tenant, site.Id, "rootlink/etc", ct));
            await Should.ThrowAsync<PanelRefusedException>(() => hosting.RenameFileAsync(tenant, site.Id, "docs/sibling", "mine", ct));
            (await Sh($"cat {otherFolder}/index.html; head -c 5 /etc/passwd; ls /etc | wc -l")).ShouldStartWith("keep\nroot:");
            (await Sh($"ls -d /etc {folder}/docs/sibling {folder}/rootlink")).Split('\n').Length.ShouldBe(3);
            (await hosting.FilesAsync(tenant, site.Id, "", ct)).Select(e => e.Name).ShouldBe(["docs", "index.html"]); // links are not listed

            // The plan's disk holds (64 MiB less what is used and a margin).
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.WriteFileAsync(tenant, site.Id, "", "big.bin", new MemoryStream(new byte[50 << 20]), ct))).Message.ShouldContain("disk has left");
            (await Sh($"ls {folder}")).ShouldNotContain("big.bin");

            // Someone else's site does not exist for them.
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.FilesAsync(stranger, site.Id, "", ct));
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.WriteFileAsync(stranger, site.Id, "", "x.html", Text("x"), ct));
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.DeleteFileAsync(stranger, site.Id, "index.html", ct));

            // Delete a folder with what it holds; the content size follows.
            (await hosting.DeleteFileAsync(tenant, site.Id, "docs", ct)).ContentBytes.ShouldBe(11);
            (await hosting.FilesAsync(tenant, site.Id, "", ct)).Select(e => e.Name).ShouldBe(["index.html"]);
            (await Sh($"cat {otherFolder}/index.html")).ShouldBe("keep");
        }
        finally
        {
            var vpses = scope.ServiceProvider.GetRequiredService<VpsService>();
            foreach (var s in await hosting.ListAsync(tenant, CancellationToken.None))
            {
                await hosting.DeleteSiteAsync(tenant, s.Id, CancellationToken.None);
            }

            (await node.WaitAsync(await vpses.DeleteAsync(Actor.System, boxId, CancellationToken.None), 90)).Status.ShouldBe(OperationStatus.Succeeded);
        }
    }

    private static MemoryStream Text(string s) => new(Encoding.UTF8.GetBytes(s));
}
