using System.Net;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core;

/// <summary>
/// The admin dashboard's use cases: plans (checked input, retiring), images, IP ranges (inside the network, no
/// overlap, never the uplink), customers (lock and unlock against the real sign-in page), operations, and
/// that a customer is refused by every one of them.
/// </summary>
public sealed class AdminServiceTests(PanelFixture fixture) : PanelTest(fixture)
{
    private static readonly Actor Admin = new(Guid.NewGuid(), "admin@test.local", IsAdmin: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Plan_create_and_edit_refuse_bad_input_and_change_nothing_then_save_and_audit_good_input()
    {
        var (scope, catalog) = Fixture.Resolve<CatalogService>();
        await using var _ = scope;
        var good = new PlanInput("Admin S", VirtualizationKind.Container, 1, 512, 5, "a plan", 100, 100, new PlanPrices(5m, 0.0075m, 1m, 0.0123m));

        async Task<string?> Refused(Func<Task> call) => (await Should.ThrowAsync<PanelRefusedException>(call)).Field;

        (await Refused(() => catalog.CreatePlanAsync(Admin, good with { MemoryMiB = 0 }, Ct))).ShouldBe("MemoryMiB");
        (await Refused(() => catalog.CreatePlanAsync(Admin, good with { Vcpus = 0 }, Ct))).ShouldBe("Vcpus");
        (await Refused(() => catalog.CreatePlanAsync(Admin, good with { Prices = new PlanPrices(-1m, 0m) }, Ct))).ShouldBe("MonthlyPrice");
        (await Refused(() => catalog.CreatePlanAsync(Admin, good with { Prices = new PlanPrices(5m, 0.00001m) }, Ct))).ShouldBe("HourlyPrice");
        (await Refused(() => catalog.CreatePlanAsync(Admin, good with { Prices = new PlanPrices(5m, 0.01m, 0m, -0.5m) }, Ct))).ShouldBe("PricePerExtraGb");
        (await Refused(() => catalog.CreatePlanAsync(Admin, good with { Name = "  " }, Ct))).ShouldBe("Name");
        await using (var db = Fixture.Database.CreateContext())
        {
            (await db.Plans.CountAsync(Ct)).ShouldBe(0);
        }

        var id = await catalog.CreatePlanAsync(Admin, good, Ct);
        var other = await catalog.CreatePlanAsync(Admin, good with { Name = "Admin M" }, Ct);
        (await Refused(() => catalog.CreatePlanAsync(Admin, good with { Name = " admin s " }, Ct))).ShouldBe("Name", "names are unique whatever the case");
        (await Refused(() => catalog.UpdatePlanAsync(Admin, other, good, Ct))).ShouldBe("Name");
        (await Refused(() => catalog.UpdatePlanAsync(Admin, id, good with { MemoryMiB = 0 }, Ct))).ShouldBe("MemoryMiB");
        (await Refused(() => catalog.UpdatePlanAsync(Admin, id, good with { Prices = new PlanPrices(5m, -0.01m) }, Ct))).ShouldBe("HourlyPrice");

        var stored = (await catalog.AdminPlansAsync(Admin, Ct)).Single(p => p.Plan.Id == id);
        stored.Plan.MemoryBytes.ShouldBe(512L << 20, "a refused edit changes nothing");
        stored.Prices.ShouldBe(new PlanPrices(5m, 0.0075m, 1m, 0.0123m));
        stored.Plan.MonthlyBandwidthBytes.ShouldBe(100L << 30);

        await catalog.UpdatePlanAsync(Admin, id, good with { Vcpus = 2, MemoryMiB = 1024, Prices = new PlanPrices(9.5m, 0.0131m, 0m, null) }, Ct);
        stored = (await catalog.AdminPlansAsync(Admin, Ct)).Single(p => p.Plan.Id == id);
        stored.Plan.Vcpus.ShouldBe(2);
        stored.Plan.MemoryBytes.ShouldBe(1024L << 20);
        stored.Prices.ShouldBe(new PlanPrices(9.5m, 0.0131m, 0m, null));
        await using (var db = Fixture.Database.CreateContext())
        {
            (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.PlanChanged && e.Target == $"plan:{id}", Ct)).ShouldBe(2);
        }
    }

    [Fact]
    public async Task A_retired_plan_and_a_disabled_image_cannot_be_ordered_and_come_back_when_offered_again()
    {
        var customer = await CustomerAsync();
        var (scope, catalog) = Fixture.Resolve<CatalogService>();
        await using var _ = scope;
        await catalog.SeedDefaultsAsync(Ct);
        var plan = (await catalog.AdminPlansAsync(Admin, Ct))[0];
        var image = (await catalog.AdminImagesAsync(Admin, Ct)).First(i => i.Image.Name == "busybox");
        var vpses = scope.ServiceProvider.GetRequiredService<VpsService>();

        await catalog.SetPlanActiveAsync(Admin, plan.Plan.Id, false, Ct);
        (await catalog.PlansAsync(customer, Ct)).ShouldNotContain(p => p.Id == plan.Plan.Id);
        (await catalog.AdminPlansAsync(Admin, Ct)).Single(p => p.Plan.Id == plan.Plan.Id).Plan.Active.ShouldBeFalse();
        var refused = await Should.ThrowAsync<PanelRefusedException>(() => vpses.CreateAsync(customer, new CreateVpsRequest(plan.Plan.Id, image.Image.Id, "retired.example.com", "Root-Passw0rd1", []), Ct));
        refused.Field.ShouldBe("PlanId");

        await catalog.SetPlanActiveAsync(Admin, plan.Plan.Id, true, Ct);
        await catalog.SetImageActiveAsync(Admin, image.Image.Id, false, Ct);
        (await catalog.ImagesAsync(customer, Ct)).ShouldNotContain(i => i.Id == image.Image.Id);
        (await Should.ThrowAsync<PanelRefusedException>(() => vpses.CreateAsync(customer, new CreateVpsRequest(plan.Plan.Id, image.Image.Id, "noimage.example.com", "Root-Passw0rd1", []), Ct)))
            .Field.ShouldBe("ImageId");
        await catalog.SetImageActiveAsync(Admin, image.Image.Id, true, Ct);
        (await catalog.PlansAsync(customer, Ct)).ShouldContain(p => p.Id == plan.Plan.Id);
        (await catalog.ImagesAsync(customer, Ct)).ShouldContain(i => i.Id == image.Image.Id);

        await using var db = Fixture.Database.CreateContext();
        (await db.Vpses.CountAsync(Ct)).ShouldBe(0);
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.PlanChanged, Ct)).ShouldBe(2);
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.ImageChanged, Ct)).ShouldBe(2);
    }

    [Fact]
    public async Task An_IPv4_range_outside_its_network_overlapping_a_pool_or_on_the_uplink_is_refused_and_a_good_one_is_listed_with_its_holders()
    {
        var pools = Fixture.Services.GetRequiredService<IpPoolService>();
        var net = $"10.{Random.Shared.Next(100, 200)}.{Random.Shared.Next(1, 250)}";
        var id = await pools.CreateAsync(Admin, "first", $"{net}.0/24", $"{net}.1", $"{net}.10", $"{net}.20", null, Ct);

        async Task<string?> Refused(string name, string network, string gateway, string first, string last)
            => (await Should.ThrowAsync<PanelRefusedException>(() => pools.CreateAsync(Admin, name, network, gateway, first, last, null, Ct))).Field;

        (await Refused("outside", $"{net}.0/24", $"{net}.1", $"{net}.200", "10.99.99.5")).ShouldBe("Last");
        (await Refused("overlap-inside", $"{net}.0/24", $"{net}.1", $"{net}.12", $"{net}.15")).ShouldBe("First");
        (await Refused("overlap-around", $"{net}.0/24", $"{net}.1", $"{net}.5", $"{net}.30")).ShouldBe("First");
        (await Refused("uplink", "192.0.2.0/24", "192.0.2.1", "192.0.2.100", "192.0.2.110")).ShouldBe("Network");
        (await Refused("uplink-wide", "192.0.0.0/16", "192.0.0.1", "192.0.3.10", "192.0.3.20")).ShouldBe("Network");
        IpPoolService.UplinkNetworks().ShouldContain(IPNetwork.Parse("192.0.2.0/24"));
        await Should.ThrowAsync<UnauthorizedAccessException>(() => pools.CreateAsync(new Actor(Guid.NewGuid(), "c@test.local", false), "c", $"{net}.0/24", $"{net}.1", $"{net}.40", $"{net}.50", null, Ct));

        await using var db = Fixture.Database.CreateContext();
        (await db.IpPools.Select(p => p.Name).Where(n => n != "first" && !EF.Functions.Like(n, "net-%")).ToListAsync(Ct)).ShouldBeEmpty("refused ranges leave nothing");
        (await db.IpAddresses.CountAsync(a => a.PoolId == id, Ct)).ShouldBe(11);

        // A second range of the same network; one address held by a VPS shows its holder.
        var second = await pools.CreateAsync(Admin, "second", $"{net}.0/24", $"{net}.1", $"{net}.21", $"{net}.40", null, Ct);
        var vps = await SeedVpsAsync(db);
        await db.IpAddresses.Where(a => a.PoolId == second && a.Address == IPAddress.Parse($"{net}.25"))
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.VpsId, vps.Id).SetProperty(a => a.AllocatedAt, DateTime.UtcNow), Ct);
        var view = (await pools.ListAsync(Admin, Ct)).Single(p => p.Id == second);
        (view.Total, view.Used, view.Free).ShouldBe((20L, 1, 19L));
        var (total, page) = await pools.AddressesAsync(Admin, second, false, 0, 5, Ct);
        total.ShouldBe(20);
        page.Select(a => a.Address).ShouldBe([$"{net}.21", $"{net}.22", $"{net}.23", $"{net}.24", $"{net}.25"]);
        page[4].Hostname.ShouldBe(vps.Hostname);
        var (usedTotal, used) = await pools.AddressesAsync(Admin, second, true, 0, 25, Ct);
        usedTotal.ShouldBe(1);
        used.Single().VpsId.ShouldBe(vps.Id);
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.IpPoolCreated, Ct)).ShouldBe(2);
        _ = id;
    }

    [Fact]
    public async Task A_locked_customer_cannot_sign_in_and_can_again_once_unlocked()
    {
        var email = NewEmail();
        var user = await Fixture.Services.CreateUserAsync(email, "Right-Passw0rd", Roles.Customer);
        var (scope, customers) = Fixture.Resolve<CustomerService>();
        await using var _ = scope;

        var (total, rows) = await customers.SearchAsync(Admin, email[..12].ToUpperInvariant(), 0, 25, Ct);
        total.ShouldBe(1);
        rows.Single().LockedUntil.ShouldBeNull();

        await customers.LockAsync(Admin, user.Id, Ct);
        (await customers.GetAsync(Admin, user.Id, Ct)).Customer.LockedUntil.ShouldBe(DateTimeOffset.MaxValue);
        using (var client = Fixture.App.CreateClient())
        {
            var refused = await client.SignInAsync(email, "Right-Passw0rd");
            refused.Headers.Location?.OriginalString.ShouldEndWith("/account/lockout");
            (await client.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.Redirect, "a locked customer is not signed in");
        }

        await customers.UnlockAsync(Admin, user.Id, Ct);
        (await customers.GetAsync(Admin, user.Id, Ct)).Customer.LockedUntil.ShouldBeNull();
        using (var client = Fixture.App.CreateClient())
        {
            (await client.SignInAsync(email, "Right-Passw0rd")).StatusCode.ShouldBe(HttpStatusCode.Redirect);
            (await client.GetAsync("/")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        // Admins are not customers: this page cannot lock them.
        await using var db = Fixture.Database.CreateContext();
        var adminId = await db.Users.Where(u => u.Email == PanelProcess.AdminEmail).Select(u => u.Id).SingleAsync(Ct);
        await Should.ThrowAsync<PanelNotFoundException>(() => customers.LockAsync(Admin, adminId, Ct));
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.AccountLocked && e.Target == $"user:{user.Id}", Ct)).ShouldBe(1);
        (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.AccountUnlocked && e.Target == $"user:{user.Id}", Ct)).ShouldBe(1);
    }

    [Fact]
    public async Task Operations_are_filtered_paged_failed_first_and_the_latest_failures_reach_the_dashboard()
    {
        await using var db = Fixture.Database.CreateContext();
        var vps = await SeedVpsAsync(db);
        var now = DateTime.UtcNow;
        Operation Op(OperationKind kind, OperationStatus status, string? error = null) => new()
        {
            VpsId = vps.Id, OwnerId = vps.OwnerId, ActorName = "system", Kind = kind, Status = status, Error = error, CreatedAt = now, FinishedAt = now,
            Events = [new OperationEvent { At = now, Progress = 100, Message = error ?? "done", IsError = error is not null }],
        };
        db.Operations.AddRange(Op(OperationKind.Start, OperationStatus.Failed, "the guest did not start"), Op(OperationKind.Stop, OperationStatus.Succeeded), Op(OperationKind.Start, OperationStatus.Succeeded), Op(OperationKind.Reboot, OperationStatus.Refused, "busy"));
        await db.SaveChangesAsync(Ct);
        var (scope, vpses) = Fixture.Resolve<VpsService>();
        await using var _ = scope;

        var (total, all) = await vpses.SearchOperationsAsync(Admin, new OperationQuery(), Ct);
        total.ShouldBe(4);
        all.Select(o => o.Kind).ShouldBe([OperationKind.Reboot, OperationKind.Start, OperationKind.Stop, OperationKind.Start]);
        all[0].Hostname.ShouldBe(vps.Hostname);
        (await vpses.SearchOperationsAsync(Admin, new OperationQuery(FailedFirst: true, Take: 1), Ct)).Rows.Single().Error.ShouldBe("the guest did not start");
        (await vpses.SearchOperationsAsync(Admin, new OperationQuery(Kind: OperationKind.Start), Ct)).Total.ShouldBe(2);
        (await vpses.SearchOperationsAsync(Admin, new OperationQuery(Status: OperationStatus.Succeeded, Kind: OperationKind.Start), Ct)).Total.ShouldBe(1);
        (await vpses.SearchOperationsAsync(Admin, new OperationQuery(Node: "no-such-node"), Ct)).Total.ShouldBe(0);
        (await vpses.SearchOperationsAsync(Admin, new OperationQuery(Skip: 3, Take: 10), Ct)).Rows.Count.ShouldBe(1);

        var dashboard = scope.ServiceProvider.GetRequiredService<DashboardService>();
        var overview = await dashboard.GetAdminOverviewAsync(Admin, Ct);
        overview.RecentErrors.Single().Error.ShouldBe("the guest did not start");
        overview.ServersByStatus[VpsStatus.Stopped].ShouldBe(1);
    }

    [Fact]
    public async Task A_customer_is_refused_by_every_admin_use_case()
    {
        var customer = await CustomerAsync();
        await using var scope = Fixture.Services.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var catalog = sp.GetRequiredService<CatalogService>();
        var pools = sp.GetRequiredService<IpPoolService>();
        var customers = sp.GetRequiredService<CustomerService>();
        var vpses = sp.GetRequiredService<VpsService>();
        var input = new PlanInput("Sneaky", VirtualizationKind.Container, 1, 512, 5);
        Func<Task>[] calls =
        [
            () => catalog.AdminPlansAsync(customer, Ct),
            () => catalog.CreatePlanAsync(customer, input, Ct),
            () => catalog.UpdatePlanAsync(customer, 1, input, Ct),
            () => catalog.SetPlanActiveAsync(customer, 1, false, Ct),
            () => catalog.AdminImagesAsync(customer, Ct),
            () => catalog.SetImageActiveAsync(customer, 1, false, Ct),
            () => pools.ListAsync(customer, Ct),
            () => pools.AddressesAsync(customer, 1, false, 0, 25, Ct),
            () => pools.CreateAsync(customer, "x", "10.9.9.0/24", "10.9.9.1", "10.9.9.5", "10.9.9.6", null, Ct),
            () => customers.SearchAsync(customer, null, 0, 25, Ct),
            () => customers.GetAsync(customer, customer.UserId!.Value, Ct),
            () => customers.LockAsync(customer, customer.UserId!.Value, Ct),
            () => customers.UnlockAsync(customer, customer.UserId!.Value, Ct),
            () => vpses.SearchOperationsAsync(customer, new OperationQuery(), Ct),
            () => sp.GetRequiredService<DashboardService>().GetAdminOverviewAsync(customer, Ct),
        ];
        foreach (var call in calls)
        {
            await Should.ThrowAsync<UnauthorizedAccessException>(call);
        }

        await using var db = Fixture.Database.CreateContext();
        (await db.Plans.CountAsync(Ct)).ShouldBe(0);
        (await db.IpPools.AnyAsync(p => p.Name == "x", Ct)).ShouldBeFalse();
        (await db.Users.AnyAsync(u => u.LockoutEnd != null, Ct)).ShouldBeFalse();
    }

    private async Task<Actor> CustomerAsync()
    {
        var email = NewEmail();
        var user = await Fixture.Services.CreateUserAsync(email, "Customer-Passw0rd", Roles.Customer);
        return new Actor(user.Id, email, IsAdmin: false);
    }

    private async Task<Vps> SeedVpsAsync(Panel.Core.Persistence.PanelDbContext db)
    {
        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync(Ct);
        }

        var owner = await Fixture.Services.CreateUserAsync(NewEmail(), "Customer-Passw0rd", Roles.Customer);
        var vps = new Vps
        {
            EngineId = "ad" + Guid.NewGuid().ToString("N")[..10], OwnerId = owner.Id, Hostname = "held.example.com", PlanId = (await db.Plans.FirstAsync(Ct)).Id,
            ImageId = (await db.Images.FirstAsync(Ct)).Id, MacAddress = "02:00:00:00:01:01", Status = VpsStatus.Stopped, CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
        };
        db.Vpses.Add(vps);
        await db.SaveChangesAsync(Ct);
        return vps;
    }
}
