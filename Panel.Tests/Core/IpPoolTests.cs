using System.Net;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core;

/// <summary>IPv6 prefixes as pools: checked input, admins only, addresses handed out once and reused after release.</summary>
public sealed class IpPoolTests(PanelFixture fixture) : PanelTest(fixture)
{
    private static readonly Actor Admin = new(Guid.NewGuid(), "admin@test.local", IsAdmin: true);

    [Fact]
    public async Task An_IPv6_prefix_hands_out_one_address_at_a_time_and_reuses_released_ones()
    {
        var pools = Fixture.Services.GetRequiredService<IpPoolService>();
        var ct = TestContext.Current.CancellationToken;
        var name = "v6-" + Guid.NewGuid().ToString("N")[..8];
        var tag = Random.Shared.Next(0x1000, 0xffff).ToString("x4", System.Globalization.CultureInfo.InvariantCulture);

        // Bad input is refused naming the field; customers cannot create pools.
        (await Should.ThrowAsync<PanelRefusedException>(() => pools.CreatePrefixAsync(Admin, name, "10.0.0.0/24", "10.0.0.1", null, ct))).Field.ShouldBe("Network");
        (await Should.ThrowAsync<PanelRefusedException>(() => pools.CreatePrefixAsync(Admin, name, $"fd56:{tag}::/32", $"fd56:{tag}::1", null, ct))).Field.ShouldBe("Network");
        (await Should.ThrowAsync<PanelRefusedException>(() => pools.CreatePrefixAsync(Admin, name, $"fd56:{tag}:1::/64", "fd00::1", null, ct))).Field.ShouldBe("Gateway");
        await Should.ThrowAsync<UnauthorizedAccessException>(() => pools.CreatePrefixAsync(new Actor(Guid.NewGuid(), "c@test.local", IsAdmin: false), name, $"fd56:{tag}:1::/64", $"fd56:{tag}:1::1", null, ct));

        var id = await pools.CreatePrefixAsync(Admin, name, $"fd56:{tag}:1::/64", $"fd56:{tag}:1::1", null, ct);
        (await Should.ThrowAsync<PanelRefusedException>(() => pools.CreatePrefixAsync(Admin, name + "b", $"fd56:{tag}:1::/64", $"fd56:{tag}:1::1", null, ct))).Field.ShouldBe("Name");
        var view = (await pools.ListAsync(Admin, ct)).Single(p => p.Id == id);
        view.Family.ShouldBe(6);
        view.Total.ShouldBe(long.MaxValue); // a /64 is more than anyone hands out
        view.Used.ShouldBe(0);

        // Two VPS rows to hold addresses (the pool only needs their ids).
        await using var db = Fixture.Database.CreateContext();
        var vpsIds = await SeedVpsesAsync(db, ct);

        var a = await IpPoolService.AllocateV6Async(db, [id], vpsIds[0], DateTime.UtcNow, ct);
        var b = await IpPoolService.AllocateV6Async(db, [id], vpsIds[1], DateTime.UtcNow, ct);
        a.ShouldBe(IPAddress.Parse($"fd56:{tag}:1::100"));
        b.ShouldBe(IPAddress.Parse($"fd56:{tag}:1::101"));
        (await pools.ListAsync(Admin, ct)).Single(p => p.Id == id).Used.ShouldBe(2);

        // Released, the address is handed out again before a new one is made.
        await db.IpAddresses.Where(x => x.PoolId == id && x.Address == a).ExecuteUpdateAsync(s => s.SetProperty(x => x.VpsId, (int?)null), ct);
        (await IpPoolService.AllocateV6Async(db, [id], vpsIds[0], DateTime.UtcNow, ct)).ShouldBe(a);
        await db.IpAddresses.Where(x => x.PoolId == id).ExecuteDeleteAsync(ct);
        await db.IpPools.Where(p => p.Id == id).ExecuteDeleteAsync(ct);
    }

    [Fact]
    public void A_bridge_address_gives_its_prefix_and_gateway()
    {
        var (gw, prefix) = IpPoolService.ParseBridge6("fd56:5650:1::1/64");
        gw.ShouldBe(IPAddress.Parse("fd56:5650:1::1"));
        prefix.ToString().ShouldBe("fd56:5650:1::/64");
        Should.Throw<PanelRefusedException>(() => IpPoolService.ParseBridge6("10.250.0.1/24"));
        Should.Throw<PanelRefusedException>(() => IpPoolService.ParseBridge6("fd56::1/16"));
    }

    private async Task<int[]> SeedVpsesAsync(Panel.Core.Persistence.PanelDbContext db, CancellationToken ct)
    {
        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync(ct);
        }

        var owner = await Fixture.Services.CreateUserAsync(NewEmail(), "Customer-Passw0rd", Panel.Core.Domain.Accounts.Roles.Customer);
        var plan = await db.Plans.FirstAsync(ct);
        var image = await db.Images.FirstAsync(ct);
        var rows = Enumerable.Range(0, 2).Select(i => new Panel.Core.Domain.Compute.Vps
        {
            EngineId = "p6" + Guid.NewGuid().ToString("N")[..10], OwnerId = owner.Id, Hostname = $"v6-{i}.example.com", PlanId = plan.Id, ImageId = image.Id,
            MacAddress = "02:00:00:00:00:0" + i, Status = Panel.Core.Domain.Compute.VpsStatus.Stopped, CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
        }).ToList();
        db.Vpses.AddRange(rows);
        await db.SaveChangesAsync(ct);
        return [.. rows.Select(r => r.Id)];
    }
}
