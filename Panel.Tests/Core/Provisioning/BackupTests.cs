using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>Backups as operations: take, restore, rotate, delete, and only for the VPS's owner and admins.</summary>
[Collection(ProvisioningCollection.Name)]
public sealed class BackupTests(NodeHostFixture node)
{
    [Fact]
    public async Task A_backup_restores_the_old_content_older_ones_rotate_out_and_deleting_the_server_removes_them()
    {
        node.Require();
        var customer = await node.NewCustomerAsync();
        var stranger = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var accepted = await vpses.CreateAsync(customer, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "backup.example.com", null, []));
        (await node.WaitAsync(accepted.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        var id = accepted.VpsId;
        var engineId = (await node.VpsAsync(id)).EngineId;
        var deleted = false;
        try
        {
            async Task<OperationView> Run(Task<long> request)
            {
                var op = await node.WaitAsync(await request, 120);
                op.Status.ShouldBe(OperationStatus.Succeeded, op.Error);
                return op;
            }

            async Task<string> Sh(string command) => (await node.Lxc.ExecAsync(new ExecOptions(engineId, ["sh", "-c", command]))).StdOut.Trim();

            // A backup of the running server, then a change, then the restore: the old content, running.
            await Sh("echo first > /root/note");
            var taken = await Run(vpses.BackupAsync(customer, id));
            (taken.Step ?? "").ShouldStartWith("backup taken");
            var first = (await vpses.BackupsAsync(customer, id)).ShouldHaveSingleItem();
            first.SizeBytes.ShouldBeGreaterThan(0);
            var firstArchive = await ArchiveAsync(first.Id);
            File.Exists(firstArchive).ShouldBeTrue();
            File.Exists(firstArchive + ".sha256").ShouldBeTrue();
            firstArchive.ShouldStartWith(node.Options.Backups.Directory ?? node.Engine.BackupsDirectory);

            await Sh("echo second > /root/note");
            await Run(vpses.RestoreBackupAsync(customer, id, first.Id));
            (await vpses.GetAsync(customer, id)).Status.ShouldBe(VpsStatus.Running);
            (await Sh("cat /root/note")).ShouldBe("first");

            // The fixture keeps two per server: the third backup removes the first, archive and all.
            await Run(vpses.BackupAsync(customer, id));
            var third = await Run(vpses.BackupAsync(customer, id));
            (third.Step ?? "").ShouldContain("1 older removed");
            var kept = await vpses.BackupsAsync(customer, id);
            kept.Count.ShouldBe(2);
            kept.ShouldNotContain(b => b.Id == first.Id);
            File.Exists(firstArchive).ShouldBeFalse();

            // Someone else's server: not found, whatever they try; a wrong backup id is refused.
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.BackupsAsync(stranger, id));
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.BackupAsync(stranger, id));
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.RestoreBackupAsync(stranger, id, kept[0].Id));
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.DeleteBackupAsync(stranger, id, kept[0].Id));
            (await Should.ThrowAsync<PanelRefusedException>(() => vpses.RestoreBackupAsync(customer, id, first.Id))).Field.ShouldBe("BackupId");

            // Delete one: its archive goes.
            var newest = await ArchiveAsync(kept[0].Id);
            await Run(vpses.DeleteBackupAsync(customer, id, kept[0].Id));
            File.Exists(newest).ShouldBeFalse();
            (await vpses.BackupsAsync(customer, id)).ShouldHaveSingleItem();

            // Deleting the server removes its backups and their folder.
            var last = await ArchiveAsync((await vpses.BackupsAsync(customer, id))[0].Id);
            await Run(vpses.DeleteAsync(customer, id));
            deleted = true;
            File.Exists(last).ShouldBeFalse();
            Directory.Exists(Path.GetDirectoryName(Path.GetDirectoryName(last))).ShouldBeFalse();
            await using var db = node.Database.CreateContext();
            (await db.VpsBackups.CountAsync(b => b.VpsId == id)).ShouldBe(0);
        }
        finally
        {
            if (!deleted)
            {
                await node.WaitAsync(await vpses.DeleteAsync(customer, id), 60);
            }
        }
    }

    private async Task<string> ArchiveAsync(int backupId)
    {
        await using var db = node.Database.CreateContext();
        return await db.VpsBackups.Where(b => b.Id == backupId).Select(b => b.Archive).SingleAsync();
    }
}
