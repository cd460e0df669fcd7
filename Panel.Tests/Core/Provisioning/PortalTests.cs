using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Provisioning;

/// <summary>The customer portal's service calls: rename, saved SSH keys, my activity, and that another customer reaches none of it.</summary>
[Collection(ProvisioningCollection.Name)]
public sealed class PortalTests(NodeHostFixture node)
{
    // A real key and the fingerprint `ssh-keygen -lf` printed for it.
    private const string Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAq0Xd3nXiYUAGy0RiLJ3IKb7U0y6v5t8CTgLz1O7DLw portal@test";
    private const string KeyFingerprint = "SHA256:UU/2GPx2Mi4WV4dZWXKjPPQUN0PcNeGQ7+H6VRIbS2c";

    [Fact]
    public async Task Rename_refuses_bad_and_duplicate_names_and_another_customer_can_neither_change_nor_read_the_server()
    {
        node.Require();
        var owner = await node.NewCustomerAsync();
        var stranger = await node.NewCustomerAsync();
        var (scope, vpses) = node.Resolve<VpsService>();
        await using var _ = scope;
        var first = await vpses.CreateAsync(owner, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "web1.example.com", null, []));
        var second = await vpses.CreateAsync(owner, new CreateVpsRequest(await node.PlanIdAsync(), await node.ImageIdAsync(), "web2.example.com", null, []));
        (await node.WaitAsync(first.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        (await node.WaitAsync(second.OperationId)).Status.ShouldBe(OperationStatus.Succeeded);
        var id = first.VpsId;
        try
        {
            // Refused with the field at fault, and nothing changed.
            var duplicate = await Should.ThrowAsync<PanelRefusedException>(() => vpses.RenameAsync(owner, id, " WEB2.example.com "));
            duplicate.Message.ShouldBe("You already have a server called web2.example.com.");
            duplicate.Field.ShouldBe("Hostname");
            (await Should.ThrowAsync<PanelRefusedException>(() => vpses.RenameAsync(owner, id, "bad_name!.example.com"))).Field.ShouldBe("Hostname");
            (await Should.ThrowAsync<PanelRefusedException>(() => vpses.RenameAsync(owner, id, ""))).Field.ShouldBe("Hostname");
            (await Should.ThrowAsync<PanelRefusedException>(() => vpses.RenameAsync(owner, id, new string('a', 64)))).Field.ShouldBe("Hostname");
            (await vpses.GetAsync(owner, id)).Hostname.ShouldBe("web1.example.com");

            // A good name: lower-cased, audited; another customer may use the same name for theirs.
            await vpses.RenameAsync(owner, id, "Shop.Example.com");
            (await vpses.GetAsync(owner, id)).Hostname.ShouldBe("shop.example.com");
            var (auditScope, audit) = node.Resolve<AuditLog>();
            await using (auditScope)
            {
                (await audit.MineAsync(owner, 0, 50)).Rows.ShouldContain(e => e.Action == AuditActions.VpsRenamed && e.Details == "web1.example.com -> shop.example.com");
            }

            // The stranger: "not found" for every call, whatever exists, and the server is as it was.
            var operations = (await vpses.OperationsAsync(owner, id)).Count;
            var before = await vpses.GetAsync(owner, id);
            var plans = await node.Resolve<CatalogService>().Service.PlansAsync(stranger);
            var bigger = plans.Single(p => p.Name == "Container M").Id;
            var image = await node.ImageIdAsync();
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.RenameAsync(stranger, id, "taken.example.com"));
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.ReinstallAsync(stranger, id, image, "Stranger-Passw0rd", []));
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.ResizeAsync(stranger, id, bigger));
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.ResetAccessAsync(stranger, id, "Stranger-Passw0rd", [Key]));
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.MetricsAsync(stranger, id, MetricsRange.Hour));
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.BackupArchiveAsync(stranger, id, 1));
            var after = await vpses.GetAsync(owner, id);
            (after.Hostname, after.PlanName, after.ImageName, after.BusyOperationId).ShouldBe((before.Hostname, before.PlanName, before.ImageName, null));
            (await vpses.OperationsAsync(owner, id)).Count.ShouldBe(operations);

            // The owner and an admin get a clear "not found" for a backup that does not exist.
            (await Should.ThrowAsync<PanelNotFoundException>(() => vpses.BackupArchiveAsync(owner, id, 999_999))).Message.ShouldBe($"Server #{id} has no backup #999999.");
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.BackupArchiveAsync(Actor.System, id, 999_999));
        }
        finally
        {
            await node.WaitAsync(await vpses.DeleteAsync(owner, first.VpsId), 60);
            await node.WaitAsync(await vpses.DeleteAsync(owner, second.VpsId), 60);
        }

        // A deleted server cannot be renamed, and its name is free again.
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.RenameAsync(owner, first.VpsId, "again.example.com"))).Message.ShouldContain("deleted");
    }

    [Fact]
    public async Task Saved_SSH_keys_are_checked_fingerprinted_and_only_their_owner_sees_or_deletes_them()
    {
        node.Require();
        var owner = await node.NewCustomerAsync();
        var stranger = await node.NewCustomerAsync();
        var (scope, keys) = node.Resolve<SshKeyService>();
        await using var _ = scope;

        // Bad keys and names are refused with the field at fault; nothing is kept.
        (await Should.ThrowAsync<PanelRefusedException>(() => keys.AddAsync(owner, "laptop", "not a key"))).Field.ShouldBe("PublicKey");
        (await Should.ThrowAsync<PanelRefusedException>(() => keys.AddAsync(owner, "laptop", "ssh-rsa " + Key.Split(' ')[1]))).Message.ShouldContain("does not match its type");
        (await Should.ThrowAsync<PanelRefusedException>(() => keys.AddAsync(owner, "laptop", Key + "\n" + Key))).Field.ShouldBe("PublicKey");
        (await Should.ThrowAsync<PanelRefusedException>(() => keys.AddAsync(owner, "  ", Key))).Field.ShouldBe("Name");
        (await keys.ListAsync(owner)).ShouldBeEmpty();

        // A good key: normalized, with the fingerprint OpenSSH shows; the same key or name again is refused.
        var added = await keys.AddAsync(owner, "laptop", "  " + Key + "  ");
        added.Fingerprint.ShouldBe(KeyFingerprint);
        added.PublicKey.ShouldBe(Key);
        (await Should.ThrowAsync<PanelRefusedException>(() => keys.AddAsync(owner, "desktop", Key))).Message.ShouldBe("You have saved this key already.");
        (await keys.ListAsync(owner)).Select(k => k.Name).ShouldBe(["laptop"]);

        // The stranger sees none of it and cannot delete it; the owner can.
        (await keys.ListAsync(stranger)).ShouldBeEmpty();
        await Should.ThrowAsync<PanelNotFoundException>(() => keys.GetAsync(stranger, added.Id));
        await Should.ThrowAsync<PanelNotFoundException>(() => keys.DeleteAsync(stranger, added.Id));
        (await keys.ListAsync(owner)).Count.ShouldBe(1);
        (await keys.AddAsync(stranger, "laptop", Key)).Fingerprint.ShouldBe(KeyFingerprint); // the same key is theirs to save too
        await keys.DeleteAsync(owner, added.Id);
        (await keys.ListAsync(owner)).ShouldBeEmpty();
        (await keys.ListAsync(stranger)).Count.ShouldBe(1);

        // My activity holds my own entries only, newest first, paged.
        var (auditScope, audit) = node.Resolve<AuditLog>();
        await using (auditScope)
        {
            var (total, rows) = await audit.MineAsync(owner, 0, 1);
            total.ShouldBe(2);
            rows.Single().Action.ShouldBe(AuditActions.SshKeyDeleted);
            (await audit.MineAsync(owner, 1, 10)).Rows.Single().Action.ShouldBe(AuditActions.SshKeyAdded);
            (await audit.MineAsync(stranger, 0, 50)).Rows.ShouldAllBe(e => e.ActorId == stranger.UserId);
            await Should.ThrowAsync<UnauthorizedAccessException>(() => audit.MineAsync(Actor.Anonymous(), 0, 10));
        }
    }
}
