using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Nodes;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core.Billing;

/// <summary>A clock the test moves: the one seam billing tests fake.</summary>
public sealed class ManualClock(DateTime start) : TimeProvider
{
    private long ticks = start.Ticks;

    /// <summary>Now, as set.</summary>
    public DateTime UtcNow => new(Interlocked.Read(ref ticks), DateTimeKind.Utc);

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref ticks), TimeSpan.Zero);

    /// <summary>Moves the clock to <paramref name="utc"/>.</summary>
    public void Set(DateTime utc) => Interlocked.Exchange(ref ticks, utc.Ticks);
}

/// <summary>
/// The billing tests' world: their own database (no panel process: billing needs none) and
/// Panel.Core's real services on it, with a clock the tests move.
/// </summary>
public sealed class BillingFixture : IAsyncLifetime
{
    /// <summary>The run's database.</summary>
    public TestDatabase Database { get; } = new();

    /// <summary>The clock every service sees.</summary>
    public ManualClock Clock { get; } = new(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));

    /// <summary>The payment provider the services charge (a stand-in that keeps its charges by idempotency key, as real providers do).</summary>
    public ProviderStandIn Gateway { get; } = new();

    /// <summary>Panel.Core's services.</summary>
    public ServiceProvider Services { get; private set; } = default!;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await Database.InitializeAsync();
        Services = CoreServices.Build(Database.ConnectionString, s =>
        {
            s.AddSingleton<TimeProvider>(Clock);
            // The payment provider is the seam: no real one is reachable from here.
            s.AddSingleton(Gateway);
            s.AddSingleton<Panel.Core.Billing.IPaymentGateway>(Gateway);
        });
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Services is not null)
        {
            await Services.DisposeAsync();
        }

        await Database.DisposeAsync();
    }
}

/// <summary>Billing tests share one database and run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class BillingCollection : ICollectionFixture<BillingFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "billing";
}

/// <summary>Base of billing tests: an empty database, helpers to build customers, plans and VPSes.</summary>
[Collection(BillingCollection.Name)]
public abstract class BillingTest(BillingFixture fixture) : IAsyncLifetime
{
    /// <summary>An admin.</summary>
    protected static readonly Actor Admin = new(Guid.NewGuid(), "admin@test.local", IsAdmin: true);

    private int nodeId, imageId;

    /// <summary>The fixture.</summary>
    protected BillingFixture Fixture { get; } = fixture;

    /// <summary>The clock.</summary>
    protected ManualClock Clock => Fixture.Clock;

    /// <summary>The test's cancellation token.</summary>
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <inheritdoc />
    public virtual async ValueTask InitializeAsync()
    {
        await Fixture.Database.ResetAsync();
        await using var db = Db();
        var now = Clock.UtcNow;
        var node = new Node { Name = "billing", Hostname = "billing", GuestNetwork = "10.250.0.1/24", RegisteredAt = now, LastHeartbeatAt = now };
        var image = new OsImage { Name = "busybox", DisplayName = "BusyBox", CreatedAt = now };
        db.Nodes.Add(node);
        db.Images.Add(image);
        await db.SaveChangesAsync(Ct);
        (nodeId, imageId) = (node.Id, image.Id);
    }

    /// <inheritdoc />
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>A new context on the test database.</summary>
    protected PanelDbContext Db() => Fixture.Database.CreateContext();

    /// <summary>A scoped service in a new scope (dispose the scope).</summary>
    protected (AsyncServiceScope Scope, T Service) Resolve<T>()
        where T : notnull
    {
        var scope = Fixture.Services.CreateAsyncScope();
        return (scope, scope.ServiceProvider.GetRequiredService<T>());
    }

    /// <summary>Runs <paramref name="call"/> with a service from a fresh scope.</summary>
    protected async Task<TResult> WithAsync<T, TResult>(Func<T, Task<TResult>> call)
        where T : notnull
    {
        var (scope, service) = Resolve<T>();
        await using (scope)
        {
            return await call(service);
        }
    }

    /// <summary>A customer user signed up at <paramref name="signedUpAt"/> (rows written directly: no password hashing).</summary>
    protected static PanelUser NewCustomer(DateTime signedUpAt)
    {
        var email = $"c-{Guid.NewGuid():N}@example.com";
        return new PanelUser
        {
            Id = Guid.NewGuid(), UserName = email, NormalizedUserName = email.ToUpperInvariant(), Email = email, NormalizedEmail = email.ToUpperInvariant(),
            SecurityStamp = Guid.NewGuid().ToString("N"), DisplayName = email.Split('@')[0], CreatedAt = signedUpAt,
        };
    }

    /// <summary>Saves one customer.</summary>
    protected async Task<Guid> CustomerAsync(DateTime signedUpAt)
    {
        await using var db = Db();
        var user = NewCustomer(signedUpAt);
        db.Users.Add(user);
        await db.SaveChangesAsync(Ct);
        return user.Id;
    }

    /// <summary>A plan with prices.</summary>
    protected static Plan NewPlan(decimal monthly, decimal hourly, decimal setup = 0, long? allowanceBytes = null, decimal? perGb = null) => new()
    {
        Name = "plan-" + Guid.NewGuid().ToString("N")[..10], Approach = VirtualizationKind.Container, Vcpus = 1, MemoryBytes = 512L << 20, DiskBytes = 5L << 30,
        MonthlyPrice = monthly, HourlyPrice = hourly, SetupFee = setup, MonthlyBandwidthBytes = allowanceBytes, PricePerExtraGb = perGb, CreatedAt = DateTime.UtcNow,
    };

    /// <summary>Saves one plan.</summary>
    protected async Task<int> PlanAsync(decimal monthly, decimal hourly, decimal setup = 0, long? allowanceBytes = null, decimal? perGb = null)
    {
        await using var db = Db();
        var plan = NewPlan(monthly, hourly, setup, allowanceBytes, perGb);
        db.Plans.Add(plan);
        await db.SaveChangesAsync(Ct);
        return plan.Id;
    }

    /// <summary>
    /// A VPS row as the provisioning code leaves it: on the node while it lives; deleted, without a node.
    /// <paramref name="onNode"/> false and no deletion is an order whose provisioning failed.
    /// </summary>
    protected Vps NewVps(Guid owner, int planId, DateTime createdAt, DateTime? deletedAt = null, VpsStatus status = VpsStatus.Running, bool onNode = true)
    {
        var engineId = "v" + Guid.NewGuid().ToString("N")[..12];
        return new Vps
        {
            EngineId = engineId, OwnerId = owner, Hostname = engineId + ".example.com", PlanId = planId, ImageId = imageId,
            NodeId = deletedAt is null && onNode ? nodeId : null, MacAddress = "02:00:00:00:00:01", Vcpus = 1, MemoryBytes = 512L << 20, DiskBytes = 5L << 30,
            MaxProcesses = 512, Status = deletedAt is null ? status : VpsStatus.Deleted, CreatedAt = createdAt, UpdatedAt = createdAt, DeletedAt = deletedAt,
        };
    }

    /// <summary>Saves one VPS.</summary>
    protected async Task<int> VpsAsync(Guid owner, int planId, DateTime createdAt, DateTime? deletedAt = null, VpsStatus status = VpsStatus.Running, bool onNode = true)
    {
        await using var db = Db();
        var vps = NewVps(owner, planId, createdAt, deletedAt, status, onNode);
        db.Vpses.Add(vps);
        await db.SaveChangesAsync(Ct);
        return vps.Id;
    }

    /// <summary>Runs the metering job as Hangfire would (a fresh scope).</summary>
    protected Task<int> MeterAsync() => WithAsync<Panel.Core.Jobs.Billing.MeterUsageJob, int>(j => j.RunAsync(Ct));

    /// <summary>Runs the invoice job as Hangfire would (a fresh scope).</summary>
    protected Task<InvoiceRunReport> InvoiceAsync() => WithAsync<Panel.Core.Jobs.Billing.InvoiceJob, InvoiceRunReport>(j => j.RunAsync(Ct));

    /// <summary>One metered hour of a VPS, as the usage segments say (an open segment reaches the meter's watermark).</summary>
    protected sealed record MeteredHour(int VpsId, DateTime HourStart, Guid OwnerId, int PlanId, string Status, bool Billable);

    /// <summary>Every metered hour, expanded from the usage segments.</summary>
    protected async Task<List<MeteredHour>> MeteredHoursAsync()
    {
        await using var db = Db();
        var watermark = await db.UsageWatermarks.AsNoTracking().Select(w => w.MeteredUntil).FirstOrDefaultAsync(Ct);
        var hours = new List<MeteredHour>();
        foreach (var s in await db.UsageSegments.AsNoTracking().OrderBy(s => s.Id).ToListAsync(Ct))
        {
            for (var h = s.FromHour; h < (s.ToHour ?? watermark ?? s.FromHour); h = h.AddHours(1))
            {
                hours.Add(new MeteredHour(s.VpsId, h, s.OwnerId, s.PlanId, s.Status, s.Billable));
            }
        }

        hours.GroupBy(h => (h.VpsId, h.HourStart)).ShouldAllBe(g => g.Count() == 1, "no hour of a VPS is in two segments");
        (await db.UsageWatermarks.AsNoTracking().Select(w => (int?)w.OpenSegments).FirstOrDefaultAsync(Ct) ?? 0)
            .ShouldBe(await db.UsageSegments.CountAsync(s => s.ToHour == null, Ct), "the meter's count of open segments");
        return hours;
    }

    /// <summary>
    /// Traffic as a node reports it: per VPS, port-counter samples at the given minutes whose cumulative
    /// counters grow by the given bytes (received and sent halves), through the metrics path's
    /// <see cref="TrafficMeter.RecordAsync"/>.
    /// </summary>
    protected async Task TrafficAsync(IEnumerable<(int VpsId, DateTime At, long Bytes)> traffic)
    {
        var samples = new List<Panel.Core.Domain.Metrics.VpsMetric>();
        foreach (var vps in traffic.GroupBy(t => t.VpsId))
        {
            long rx = 0, tx = 0;
            foreach (var (_, at, bytes) in vps.OrderBy(t => t.At))
            {
                rx += bytes / 2;
                tx += bytes - (bytes / 2);
                samples.Add(new Panel.Core.Domain.Metrics.VpsMetric { VpsId = vps.Key, At = at, RxBytes = rx, TxBytes = tx });
            }
        }

        await using var db = Db();
        (await TrafficMeter.RecordAsync(db, samples, Ct)).ShouldBe(samples.Count);
    }

    /// <summary>Snapshot of every billing row, to prove a refused call changed nothing.</summary>
    protected async Task<string> BillingStateAsync()
    {
        await using var db = Db();
        var ledger = await db.LedgerEntries.AsNoTracking().OrderBy(e => e.Id).Select(e => $"{e.Id}:{e.CustomerId}:{e.Kind}:{e.Amount}:{e.BalanceAfter}:{e.InvoiceId}").ToListAsync(Ct);
        var invoices = await db.Invoices.AsNoTracking().OrderBy(i => i.Id).Select(i => $"{i.Id}:{i.Number}:{i.Total}:{i.Status}:{i.PaidAt}").ToListAsync(Ct);
        var plans = await db.Plans.AsNoTracking().OrderBy(p => p.Id).Select(p => $"{p.Id}:{p.MonthlyPrice}:{p.HourlyPrice}:{p.SetupFee}:{p.PricePerExtraGb}").ToListAsync(Ct);
        var settings = await db.Settings.AsNoTracking().OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}").ToListAsync(Ct);
        var taxes = await db.TaxRates.AsNoTracking().OrderBy(r => r.CountryCode).Select(r => $"{r.CountryCode}:{r.RatePercent}:{r.Name}").ToListAsync(Ct);
        var accounts = (await db.BillingAccounts.AsNoTracking().OrderBy(a => a.CustomerId).ToListAsync(Ct)).Select(a => $"{a.CustomerId}:{a.Country}:{a.IsBusiness}:{a.VatNumber}:{a.LegalName}:{a.Address}");
        var coupons = await db.Coupons.AsNoTracking().OrderBy(c => c.Id).Select(c => $"{c.Id}:{c.Code}:{c.Value}:{c.Redemptions}").ToListAsync(Ct);
        var redemptions = await db.CouponRedemptions.AsNoTracking().OrderBy(r => r.Id).Select(r => $"{r.Id}:{r.CouponId}:{r.CustomerId}:{r.InvoiceId}").ToListAsync(Ct);
        var notes = await db.CreditNotes.AsNoTracking().OrderBy(n => n.Id).Select(n => $"{n.Id}:{n.Number}:{n.Amount}").ToListAsync(Ct);
        return string.Join("\n", ledger.Concat(invoices).Concat(plans).Concat(settings).Concat(taxes).Concat(accounts).Concat(coupons).Concat(redemptions).Concat(notes));
    }

    /// <summary>A customer with one VPS on a plan of <paramref name="monthly"/> (hourly 1/500 of it) for the whole January period: its first invoice, issued by the job on Feb 1. Returns (customer, invoice id).</summary>
    protected async Task<(Guid Customer, long InvoiceId)> IssuedInvoiceAsync(decimal monthly = 10m, decimal? credit = null, Func<Guid, Task>? before = null)
    {
        var plan = await PlanAsync(monthly, Math.Round(monthly / 500m, 4));
        var customer = await CustomerAsync(Utc(2026, 1, 1));
        await VpsAsync(customer, plan, Utc(2026, 1, 1));
        if (credit is { } c)
        {
            await WithAsync<BillingService, BalanceView>(b => b.TopUpAsync(Admin, customer, c, null, Ct));
        }

        if (before is not null)
        {
            await before(customer);
        }

        Clock.Set(Utc(2026, 2, 1, 0, 30));
        await InvoiceAsync();
        await using var db = Db();
        return (customer, (await db.Invoices.Where(i => i.CustomerId == customer).OrderBy(i => i.Id).FirstAsync(Ct)).Id);
    }

    /// <summary>A UTC time.</summary>
    protected static DateTime Utc(int year, int month, int day, int hour = 0, int minute = 0) => new(year, month, day, hour, minute, 0, DateTimeKind.Utc);
}
