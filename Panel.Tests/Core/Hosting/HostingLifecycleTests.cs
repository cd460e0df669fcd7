using Microsoft.EntityFrameworkCore;
using Panel.Core;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Hosting;

/// <summary>
/// A tenant's sites through billing's suspension and back, through the real edge and the real dunning path
/// (an overdue invoice suspends every server of the account, the hosting container too; paying it lifts the
/// suspension), and what deleting the last site leaves: the container, so the next site is served at once.
/// </summary>
[Collection(ProvisioningCollection.Name)]
public sealed class HostingLifecycleTests(NodeHostFixture node)
{
    private const long MiB = 1L << 20;

    [Fact]
    public async Task An_unpaid_tenants_sites_show_the_suspension_page_come_back_when_paid_and_the_container_outlives_the_last_site()
    {
        node.Require();
        var ct = TestContext.Current.CancellationToken;
        var tenant = await node.NewCustomerAsync();
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;
        var vpses = scope.ServiceProvider.GetRequiredService<VpsService>();
        var planId = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web L " + Guid.NewGuid().ToString("N")[..6], 3, 256 * MiB, null, 1, 128 * MiB, 9.99m), ct);
        var site = await hosting.AddSiteAsync(tenant, new AddSiteRequest($"shop-{Guid.NewGuid():N}"[..15] + ".test", PlanId: planId), ct);
        var boxId = await ProvisionedBoxAsync(tenant.UserId!.Value);

        var http = HostingTests.FreePort();
        await using var edge = HostingTests.NewEdge(node, new PanelOptions { Edge = { HttpUrl = $"http://127.0.0.1:{http}", HttpsUrl = "", ReloadSeconds = 3600 } });
        await edge.StartAsync(ct);
        try
        {
            using (var zip = SiteArchiveTests.Zip(("index.html", "open for business", 0)))
            {
                await hosting.UploadAsync(tenant, site.Id, zip, ct);
            }

            (await HostingTests.CurlAsync(site.Domain, http, "/")).ShouldBe((200, "open for business"));

            // An invoice 20 days overdue; dunning suspends after 14: every server of the account, the sites' container too.
            var invoice = await OverdueInvoiceAsync(tenant.UserId!.Value, 20, ct);
            var dunning = scope.ServiceProvider.GetRequiredService<DunningService>();
            await scope.ServiceProvider.GetRequiredService<SettingsService>().SetDunningAsync(Actor.System, new DunningSettings(true, [3], [1], 14, 60), ct);
            (await dunning.RunForCustomerAsync(tenant.UserId!.Value, ct)).Suspended.ShouldBe(1);
            long suspendOp;
            await using (var db = node.Database.CreateContext())
            {
                suspendOp = (await db.DunningSuspensions.SingleAsync(s => s.VpsId == boxId, ct)).OperationId!.Value;
            }

            (await node.WaitAsync(suspendOp, 90)).Status.ShouldBe(OperationStatus.Succeeded);

            // The finished operation made the edge reload: the suspension page at once, on every path.
            var suspended = await HostingTests.CurlAsync(site.Domain, http, "/");
            suspended.Status.ShouldBe(503);
            suspended.Body.ShouldContain("Website suspended");
            (await HostingTests.CurlAsync(site.Domain, http, "/any/page.html")).Status.ShouldBe(503);
            var view = await hosting.GetAsync(tenant, site.Id, ct);
            view.State.ShouldBe(SiteState.Suspended);
            view.SuspensionReason!.ShouldContain(invoice.Number);
            hosting.EdgeHealth(Actor.System).Suspended.ShouldBe(1);
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.StartAsync(tenant, boxId, ct)); // not the tenant's to start

            // Paid: the suspension is lifted, the container starts and serves again.
            var billing = scope.ServiceProvider.GetRequiredService<BillingService>();
            (await billing.RecordPaymentAsync(Actor.System, invoice.Id, invoice.Total, "bank transfer", ct)).InvoicePaid.ShouldBeTrue();
            long unsuspendOp;
            await using (var db = node.Database.CreateContext())
            {
                unsuspendOp = await db.Operations.Where(o => o.VpsId == boxId && o.Kind == OperationKind.Unsuspend).Select(o => o.Id).SingleAsync(ct);
            }

            (await node.WaitAsync(unsuspendOp, 90)).Status.ShouldBe(OperationStatus.Succeeded);
            (await ServedAsync(site.Domain, http, "open for business")).ShouldBeTrue("the site did not come back within 10 s of the unsuspension");
            (await hosting.GetAsync(tenant, site.Id, ct)).State.ShouldBe(SiteState.Live);

            // Deleting the last site leaves the container (it belongs to the plan, not to a site): the next site is served at once.
            await hosting.DeleteSiteAsync(tenant, site.Id, ct);
            await edge.ReloadAsync(ct);
            (await HostingTests.CurlAsync(site.Domain, http, "/")).Status.ShouldBe(404);
            (await node.VpsAsync(boxId)).Status.ShouldBe(VpsStatus.Running);
            (await hosting.SpaceAsync(tenant, ct))!.Sites.ShouldBe(0);
            var next = await hosting.AddSiteAsync(tenant, new AddSiteRequest("next-" + site.Domain), ct);
            next.ContainerStatus.ShouldBe(VpsStatus.Running);
            using (var zip = SiteArchiveTests.Zip(("index.html", "second site", 0)))
            {
                await hosting.UploadAsync(tenant, next.Id, zip, ct);
            }

            (await HostingTests.CurlAsync(next.Domain, http, "/")).ShouldBe((200, "second site"));
            await using (var db = node.Database.CreateContext())
            {
                (await db.Operations.CountAsync(o => o.VpsId == boxId && o.Kind == OperationKind.Provision, ct)).ShouldBe(1);
                (await db.HostingSpaces.Where(s => s.OwnerId == tenant.UserId).Select(s => s.VpsId).SingleAsync(ct)).ShouldBe(boxId);
            }
        }
        finally
        {
            await edge.StopAsync(CancellationToken.None);
            foreach (var left in await hosting.ListAsync(tenant, CancellationToken.None))
            {
                await hosting.DeleteSiteAsync(tenant, left.Id, CancellationToken.None);
            }

            await scope.ServiceProvider.GetRequiredService<SettingsService>().SetDunningAsync(Actor.System, new DunningSettings(false, [3], [1], 14, 60), CancellationToken.None);

            await RemoveBoxesAsync(vpses, [boxId]);
        }
    }

    [Fact]
    public async Task A_terminated_tenants_sites_names_and_certificates_go_with_their_container_and_the_domain_is_free_again()
    {
        node.Require();
        var ct = TestContext.Current.CancellationToken;
        var tenant = await node.NewCustomerAsync();
        var other = await node.NewCustomerAsync();
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;
        var vpses = scope.ServiceProvider.GetRequiredService<VpsService>();
        var planId = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web T " + Guid.NewGuid().ToString("N")[..6], 2, 256 * MiB, null, 1, 128 * MiB, 4.99m), ct);
        var domain = $"gone-{Guid.NewGuid():N}"[..15] + ".test";
        var site = await hosting.AddSiteAsync(tenant, new AddSiteRequest(domain, ["www." + domain], planId), ct);
        var second = await hosting.AddSiteAsync(tenant, new AddSiteRequest("blog." + domain), ct);
        var boxId = await ProvisionedBoxAsync(tenant.UserId!.Value);

        var http = HostingTests.FreePort();
        await using var edge = HostingTests.NewEdge(node, new PanelOptions { Edge = { HttpUrl = $"http://127.0.0.1:{http}", HttpsUrl = "", ReloadSeconds = 3600 } });
        await edge.StartAsync(ct);
        int? otherBox = null;
        try
        {
            using (var zip = SiteArchiveTests.Zip(("index.html", "soon gone", 0)))
            {
                await hosting.UploadAsync(tenant, site.Id, zip, ct);
            }

            (await HostingTests.CurlAsync(domain, http, "/")).ShouldBe((200, "soon gone"));

            // 70 days overdue, terminate after 60: dunning deletes the container and ends the hosting with it.
            var invoice = await OverdueInvoiceAsync(tenant.UserId!.Value, 70, ct);
            await scope.ServiceProvider.GetRequiredService<SettingsService>().SetDunningAsync(Actor.System, new DunningSettings(true, [3], [1], 14, 60), ct);
            var dunning = scope.ServiceProvider.GetRequiredService<DunningService>();
            var report = await dunning.RunForCustomerAsync(tenant.UserId!.Value, ct);
            report.Terminated.ShouldBe(1);
            report.SitesRemoved.ShouldBe(3); // the domain, its alias and the second site
            long deleteOp;
            await using (var db = node.Database.CreateContext())
            {
                deleteOp = await db.Operations.Where(o => o.VpsId == boxId && o.Kind == OperationKind.Delete).Select(o => o.Id).SingleAsync(ct);
                (await db.HostingSpaces.AnyAsync(s => s.OwnerId == tenant.UserId, ct)).ShouldBeFalse();
                (await db.Sites.AnyAsync(s => s.Id == site.Id || s.Id == second.Id, ct)).ShouldBeFalse();
                (await db.SiteDomains.AnyAsync(d => d.Name.EndsWith(domain), ct)).ShouldBeFalse();
                (await db.EdgeCertificates.AnyAsync(c => c.SiteId == site.Id || c.SiteId == second.Id, ct)).ShouldBeFalse();
                var audits = await db.AuditEvents.Where(a => a.Action == AuditActions.HostingTerminated && (a.Target == $"site:{site.Id}" || a.Target == $"site:{second.Id}" || a.Target == $"user:{tenant.UserId}")).ToListAsync(ct);
                audits.Count.ShouldBe(3);
                audits.ShouldAllBe(a => a.Details!.Contains(invoice.Number));
                (await db.MailOutbox.Where(m => m.Subject.Contains(invoice.Number) && m.Subject.Contains("deleted")).Select(m => m.Body).SingleAsync(ct)).ShouldContain("websites " + domain);
            }

            (await node.WaitAsync(deleteOp, 90)).Status.ShouldBe(OperationStatus.Succeeded);

            // The edge routes the names no more: the unknown-host page, not "not available".
            var gone = await HostingTests.CurlAsync(domain, http, "/");
            gone.Status.ShouldBe(404);
            gone.Body.ShouldContain("No website here");
            (await HostingTests.CurlAsync("www." + domain, http, "/")).Status.ShouldBe(404);
            (await hosting.ListAsync(tenant, ct)).ShouldBeEmpty();
            (await hosting.SpaceAsync(tenant, ct)).ShouldBeNull();
            await Should.ThrowAsync<PanelNotFoundException>(() => hosting.GetAsync(tenant, site.Id, ct));

            // A second run finds nothing more to do; the domain is free for another customer.
            (await dunning.RunForCustomerAsync(tenant.UserId!.Value, ct)).ShouldBe(new DunningRunReport(0, 0, 0, 0));
            var taken = await hosting.AddSiteAsync(other, new AddSiteRequest(domain, ["www." + domain], planId), ct);
            taken.Domain.ShouldBe(domain);
            await using (var db = node.Database.CreateContext())
            {
                otherBox = await db.HostingSpaces.Where(s => s.OwnerId == other.UserId).Select(s => s.VpsId).SingleAsync(ct);
            }

            // Only admins end someone's hosting.
            await Should.ThrowAsync<UnauthorizedAccessException>(() => hosting.TerminateAsync(tenant, other.UserId!.Value, "no", ct));
        }
        finally
        {
            await edge.StopAsync(CancellationToken.None);
            await scope.ServiceProvider.GetRequiredService<SettingsService>().SetDunningAsync(Actor.System, new DunningSettings(false, [3], [1], 14, 60), CancellationToken.None);
            foreach (var owner in new[] { tenant, other })
            {
                await hosting.TerminateAsync(Actor.System, owner.UserId!.Value, "test cleanup", CancellationToken.None); // no exec: the container may still be starting
            }

            await RemoveBoxesAsync(vpses, new[] { (int?)boxId, otherBox }.OfType<int>());
        }
    }

    [Fact]
    public async Task A_tenant_moves_to_a_plan_that_holds_their_sites_and_cancelling_removes_the_hosting_and_its_container()
    {
        node.Require();
        var ct = TestContext.Current.CancellationToken;
        var tenant = await node.NewCustomerAsync();
        var other = await node.NewCustomerAsync();
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;
        var vpses = scope.ServiceProvider.GetRequiredService<VpsService>();
        var tag = Guid.NewGuid().ToString("N")[..6];
        var small = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web S " + tag, 2, 256 * MiB, null, 1, 128 * MiB, 3.00m), ct);
        var single = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web 1 " + tag, 1, 512 * MiB, null, 1, 128 * MiB, 2.00m), ct);
        var tiny = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web T " + tag, 5, 128 * MiB, null, 1, 128 * MiB, 1.00m), ct);
        var big = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web B " + tag, 5, 512 * MiB, null, 2, 256 * MiB, 8.00m), ct);
        var domain = $"move-{Guid.NewGuid():N}"[..15] + ".test";
        var site = await hosting.AddSiteAsync(tenant, new AddSiteRequest(domain, ["www." + domain], small), ct);
        await hosting.AddSiteAsync(tenant, new AddSiteRequest("blog." + domain), ct);
        var boxId = await ProvisionedBoxAsync(tenant.UserId!.Value);

        try
        {
            // Plans that cannot hold what the tenant has are refused with the reason; nothing changes.
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.ChangePlanAsync(tenant, single, ct))).Message.ShouldContain("allows 1 site and you have 2");
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.ChangePlanAsync(tenant, tiny, ct))).Message.ShouldContain("can only grow");
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.ChangePlanAsync(tenant, small, ct))).Message.ShouldContain("already has");
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.ChangePlanAsync(other, big, ct))).Message.ShouldContain("no hosting yet");
            (await hosting.SpaceAsync(tenant, ct))!.PlanName.ShouldBe("Web S " + tag);
            (await node.VpsAsync(boxId)).BusyOperationId.ShouldBeNull();

            // A bigger plan: the container is resized to its compute plan by the ordinary resize operation.
            var moved = await hosting.ChangePlanAsync(tenant, big, ct);
            moved.PlanName.ShouldBe("Web B " + tag);
            moved.MaxSites.ShouldBe(5);
            long resizeOp;
            await using (var db = node.Database.CreateContext())
            {
                resizeOp = await db.Operations.Where(o => o.VpsId == boxId && o.Kind == OperationKind.Resize).Select(o => o.Id).SingleAsync(ct);
                (await db.AuditEvents.CountAsync(a => a.Action == AuditActions.HostingPlanChanged && a.Target == $"user:{tenant.UserId}", ct)).ShouldBe(1);
                (await db.AuditEvents.CountAsync(a => a.Action == AuditActions.HostingRefused && a.Target == $"user:{tenant.UserId}", ct)).ShouldBe(3);
            }

            (await node.WaitAsync(resizeOp, 90)).Status.ShouldBe(OperationStatus.Succeeded);
            var box = await node.VpsAsync(boxId);
            (box.Vcpus, box.MemoryBytes, box.DiskBytes).ShouldBe((2, 256 * MiB, 512 * MiB));
            (await vpses.ListAsync(tenant, ct)).ShouldNotContain(v => v.Id == boxId);

            // Cancelling: only the tenant (or an admin) may; it deletes the container and frees the names at once.
            await Should.ThrowAsync<UnauthorizedAccessException>(() => hosting.CancelAsync(other, tenant.UserId, ct));
            var removed = await hosting.CancelAsync(tenant, cancellationToken: ct);
            removed.ShouldBe([domain, "www." + domain, "blog." + domain], ignoreOrder: true);
            (await hosting.SpaceAsync(tenant, ct)).ShouldBeNull();
            (await hosting.ListAsync(tenant, ct)).ShouldBeEmpty();
            (await vpses.ListAsync(tenant, ct)).ShouldNotContain(v => v.Id == boxId); // not a server of theirs while it is deleted either
            await Should.ThrowAsync<PanelNotFoundException>(() => vpses.GetAsync(tenant, boxId, ct));
            long deleteOp;
            await using (var db = node.Database.CreateContext())
            {
                deleteOp = await db.Operations.Where(o => o.VpsId == boxId && o.Kind == OperationKind.Delete).Select(o => o.Id).SingleAsync(ct);
                (await db.SiteDomains.AnyAsync(d => d.Name.EndsWith(domain), ct)).ShouldBeFalse();
                (await db.EdgeCertificates.AnyAsync(c => c.SiteId == site.Id, ct)).ShouldBeFalse();
                (await db.AuditEvents.CountAsync(a => a.Action == AuditActions.HostingCancelled && (a.Target == $"site:{site.Id}" || a.Target == $"user:{tenant.UserId}"), ct)).ShouldBe(2);
            }

            (await node.WaitAsync(deleteOp, 90)).Status.ShouldBe(OperationStatus.Succeeded);
            (await Should.ThrowAsync<PanelRefusedException>(() => hosting.CancelAsync(tenant, cancellationToken: ct))).Message.ShouldContain("no hosting to cancel");

            // The names are free for anyone again.
            (await hosting.AddSiteAsync(other, new AddSiteRequest(domain, PlanId: small), ct)).Domain.ShouldBe(domain);
            await using (var db = node.Database.CreateContext())
            {
                var otherBox = await db.HostingSpaces.Where(s => s.OwnerId == other.UserId).Select(s => s.VpsId!.Value).SingleAsync(ct);
                await WaitIdleAsync(otherBox); // its provisioning: a busy container is not cancelled under it
            }

            (await hosting.CancelAsync(Actor.System, other.UserId, ct)).ShouldBe([domain]);
        }
        finally
        {
            foreach (var owner in new[] { tenant, other })
            {
                await hosting.TerminateAsync(Actor.System, owner.UserId!.Value, "test cleanup", CancellationToken.None);
            }

            await using var db = node.Database.CreateContext();
            var boxes = await db.Vpses.Where(v => v.OwnerId == tenant.UserId || v.OwnerId == other.UserId).Select(v => v.Id).ToListAsync(CancellationToken.None);
            await RemoveBoxesAsync(vpses, boxes);
        }
    }

    [Fact]
    public async Task A_tenant_who_used_up_the_plans_monthly_traffic_gets_the_bandwidth_page_until_a_bigger_plan()
    {
        node.Require();
        var ct = TestContext.Current.CancellationToken;
        var tenant = await node.NewCustomerAsync();
        var (scope, hosting) = node.Resolve<HostingService>();
        await using var _ = scope;
        var vpses = scope.ServiceProvider.GetRequiredService<VpsService>();
        var tag = Guid.NewGuid().ToString("N")[..6];
        var small = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web 64K " + tag, 2, 256 * MiB, 64 * 1024, 1, 128 * MiB, 1.00m), ct);
        var more = await hosting.CreatePlanAsync(Actor.System, new HostingPlanRequest("Web 10M " + tag, 2, 256 * MiB, 10 * MiB, 1, 128 * MiB, 2.00m), ct);
        var site = await hosting.AddSiteAsync(tenant, new AddSiteRequest($"busy-{Guid.NewGuid():N}"[..15] + ".test", PlanId: small), ct);
        var boxId = await ProvisionedBoxAsync(tenant.UserId!.Value);

        var http = HostingTests.FreePort();
        await using var edge = HostingTests.NewEdge(node, new PanelOptions { Edge = { HttpUrl = $"http://127.0.0.1:{http}", HttpsUrl = "", ReloadSeconds = 3600 } });
        await edge.StartAsync(ct);
        try
        {
            var page = new string('x', 20_000);
            using (var zip = SiteArchiveTests.Zip(("index.html", page, 0)))
            {
                await hosting.UploadAsync(tenant, site.Id, zip, ct);
            }

            // Three pages (60 KB and headers) stay under 64 KiB; the fourth crosses it: once counted, the bandwidth page.
            for (var i = 0; i < 3; i++)
            {
                (await HostingTests.CurlAsync(site.Domain, http, "/")).ShouldBe((200, page));
            }

            await edge.FlushAsync(ct);
            (await HostingTests.CurlAsync(site.Domain, http, "/")).ShouldBe((200, page));
            await edge.FlushAsync(ct);
            var over = await HostingTests.CurlAsync(site.Domain, http, "/");
            over.Status.ShouldBe(509);
            over.Body.ShouldContain("Bandwidth limit reached");
            hosting.EdgeHealth(Actor.System).OverAllowance.ShouldBe(1);
            (await hosting.GetAsync(tenant, site.Id, ct)).BytesThisMonth.ShouldBeGreaterThanOrEqualTo(64 * 1024);

            // A plan with more traffic lifts it at once (the change signals the edge).
            await hosting.ChangePlanAsync(tenant, more, ct);
            var served = false;
            for (var i = 0; i < 50 && !served; i++)
            {
                served = await HostingTests.CurlAsync(site.Domain, http, "/") == (200, page);
                if (!served)
                {
                    await Task.Delay(200, ct);
                }
            }

            served.ShouldBeTrue("the site stayed on the bandwidth page for 10 s after the plan grew");
            hosting.EdgeHealth(Actor.System).OverAllowance.ShouldBe(0);
        }
        finally
        {
            await edge.StopAsync(CancellationToken.None);
            await hosting.TerminateAsync(Actor.System, tenant.UserId!.Value, "test cleanup", CancellationToken.None);
            await RemoveBoxesAsync(vpses, [boxId]);
        }
    }

    /// <summary>Polls the edge until the page answers (the container's web servers start from its inittab after the boot).</summary>
    private static async Task<bool> ServedAsync(string host, int port, string body)
    {
        for (var i = 0; i < 50; i++)
        {
            if (await HostingTests.CurlAsync(host, port, "/") == (200, body))
            {
                return true;
            }

            await Task.Delay(200);
        }

        return false;
    }

    /// <summary>The tenant's hosting container, once its provisioning succeeded.</summary>
    private async Task<int> ProvisionedBoxAsync(Guid ownerId)
    {
        await using var db = node.Database.CreateContext();
        var boxId = await db.HostingSpaces.Where(s => s.OwnerId == ownerId).Select(s => s.VpsId!.Value).SingleAsync();
        var provision = await db.Operations.Where(o => o.VpsId == boxId && o.Kind == OperationKind.Provision).Select(o => o.Id).SingleAsync();
        (await node.WaitAsync(provision)).Status.ShouldBe(OperationStatus.Succeeded);
        return boxId;
    }

    /// <summary>Deletes these containers (after what runs on them) unless they are gone already.</summary>
    private async Task RemoveBoxesAsync(VpsService vpses, IEnumerable<int> ids)
    {
        foreach (var id in ids)
        {
            await WaitIdleAsync(id);
            if ((await node.VpsAsync(id)).Status is not (VpsStatus.Deleted or VpsStatus.Deleting))
            {
                (await node.WaitAsync(await vpses.DeleteAsync(Actor.System, id, CancellationToken.None), 90)).Status.ShouldBe(OperationStatus.Succeeded);
            }
        }
    }

    private async Task WaitIdleAsync(int vpsId)
    {
        for (var i = 0; i < 300 && (await node.VpsAsync(vpsId)).BusyOperationId is { } busy; i++)
        {
            await node.WaitAsync(busy, 90);
        }
    }

    /// <summary>An issued, open invoice of the customer, due <paramref name="daysOverdue"/> days ago (as the invoice job would have left it).</summary>
    private async Task<Invoice> OverdueInvoiceAsync(Guid customerId, int daysOverdue, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        var invoice = new Invoice
        {
            Number = $"INV-2090-{Random.Shared.Next(1, 999999):000000}",
            CustomerId = customerId,
            PeriodStart = now.AddDays(-daysOverdue - 44),
            PeriodEnd = now.AddDays(-daysOverdue - 14),
            IssuedAt = now.AddDays(-daysOverdue - 14),
            DueAt = now.AddDays(-daysOverdue),
            Currency = "EUR",
            Net = 9.99m,
            Total = 9.99m,
            BillTo = "tenant",
            Status = InvoiceStatus.Open,
        };
        invoice.Lines.Add(new InvoiceLine { Position = 1, Kind = InvoiceLineKind.Hours, Description = "Web hosting", Quantity = 1, UnitPrice = 9.99m, Amount = 9.99m });
        await using var db = node.Database.CreateContext();
        db.Invoices.Add(invoice);
        await db.SaveChangesAsync(ct);
        return invoice;
    }
}
