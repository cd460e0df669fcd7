using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Compute;
using Panel.Core.Persistence;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Services;

/// <summary>A plan on the order page.</summary>
/// <param name="Id">Plan id.</param>
/// <param name="Name">Name.</param>
/// <param name="Description">A line about it.</param>
/// <param name="Approach">Virtualization approach.</param>
/// <param name="ApproachText">The approach in plain words.</param>
/// <param name="Vcpus">vCPUs.</param>
/// <param name="MemoryBytes">Memory.</param>
/// <param name="DiskBytes">Disk.</param>
/// <param name="PortSpeedMbit">Port speed cap.</param>
/// <param name="MonthlyBandwidthBytes">Traffic allowance.</param>
/// <param name="Active">Orderable.</param>
/// <param name="ThrottleMbit">The port speed once the allowance is used up (until the period ends), or null.</param>
public sealed record PlanView(int Id, string Name, string? Description, VirtualizationKind Approach, string ApproachText, int Vcpus, long MemoryBytes, long DiskBytes, int? PortSpeedMbit, long? MonthlyBandwidthBytes, bool Active, int? ThrottleMbit = null);

/// <summary>An image in lists.</summary>
/// <param name="Id">Image id.</param>
/// <param name="Name">Engine name.</param>
/// <param name="DisplayName">Shown name.</param>
/// <param name="Active">Orderable.</param>
public sealed record ImageView(int Id, string Name, string DisplayName, bool Active);

/// <summary>A new or changed plan.</summary>
/// <param name="Name">Unique name.</param>
/// <param name="Approach">Virtualization approach.</param>
/// <param name="Vcpus">1-64.</param>
/// <param name="MemoryMiB">64 MiB - 1 TiB.</param>
/// <param name="DiskGiB">1-16384 GiB.</param>
/// <param name="Description">Optional line.</param>
/// <param name="PortSpeedMbit">Optional cap.</param>
/// <param name="MonthlyBandwidthGiB">Optional allowance.</param>
/// <param name="Prices">Its prices; null keeps them (a new plan: all 0).</param>
/// <param name="ThrottleMbit">
/// Optional 1-100000 Mbit/s, below the port speed: once the allowance is used up the port drops to it until the
/// billing period ends. Needs an allowance and excludes a price per extra GB (a throttling plan never charges for traffic).
/// </param>
public sealed record PlanInput(string Name, VirtualizationKind Approach, int Vcpus, int MemoryMiB, int DiskGiB, string? Description = null, int? PortSpeedMbit = null, int? MonthlyBandwidthGiB = null, PlanPrices? Prices = null, int? ThrottleMbit = null);

/// <summary>A plan on the admin plans page.</summary>
/// <param name="Plan">What customers see.</param>
/// <param name="Prices">Its prices.</param>
/// <param name="Servers">VPSes on it (not deleted).</param>
public sealed record PlanAdminView(PlanView Plan, PlanPrices Prices, int Servers);

/// <summary>An image on the admin images page.</summary>
/// <param name="Image">The image.</param>
/// <param name="Nodes">The nodes that have it, by name.</param>
/// <param name="Servers">VPSes installed with it (not deleted).</param>
public sealed record ImageAdminView(ImageView Image, IReadOnlyList<string> Nodes, int Servers);

/// <summary>Plans and images: what can be ordered.</summary>
public sealed class CatalogService(IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, TimeProvider clock)
{
    /// <summary>Plans: customers see the active ones, admins all.</summary>
    public async Task<IReadOnlyList<PlanView>> PlansAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var plans = await db.Plans.AsNoTracking().Where(p => p.Active || actor.IsAdmin).OrderBy(p => p.SortOrder).ThenBy(p => p.Id).ToListAsync(cancellationToken);
        return plans.Select(p => new PlanView(p.Id, p.Name, p.Description, p.Approach, Plan.Describe(p.Approach), p.Vcpus, p.MemoryBytes, p.DiskBytes, p.PortSpeedMbit, p.MonthlyBandwidthBytes, p.Active, p.ThrottleMbit)).ToList();
    }

    /// <summary>Images: customers see the active ones, admins all.</summary>
    public async Task<IReadOnlyList<ImageView>> ImagesAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Images.AsNoTracking().Where(i => i.Active || actor.IsAdmin).OrderBy(i => i.SortOrder).ThenBy(i => i.Id)
            .Select(i => new ImageView(i.Id, i.Name, i.DisplayName, i.Active)).ToListAsync(cancellationToken);
    }

    /// <summary>Every plan with its prices and how many VPSes use it. Admins only.</summary>
    public async Task<IReadOnlyList<PlanAdminView>> AdminPlansAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var plans = await db.Plans.AsNoTracking().OrderBy(p => p.SortOrder).ThenBy(p => p.Id).ToListAsync(cancellationToken);
        var servers = await db.Vpses.Where(v => v.DeletedAt == null).GroupBy(v => v.PlanId).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);
        return plans.Select(p => new PlanAdminView(
            new PlanView(p.Id, p.Name, p.Description, p.Approach, Plan.Describe(p.Approach), p.Vcpus, p.MemoryBytes, p.DiskBytes, p.PortSpeedMbit, p.MonthlyBandwidthBytes, p.Active, p.ThrottleMbit),
            new PlanPrices(p.MonthlyPrice, p.HourlyPrice, p.SetupFee, p.PricePerExtraGb),
            servers.GetValueOrDefault(p.Id))).ToList();
    }

    /// <summary>Creates a plan (all input checked before anything is written). Admins only; audited.</summary>
    public async Task<int> CreatePlanAsync(Actor actor, PlanInput input, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        var name = CheckPlan(input);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        if (await db.Plans.AnyAsync(p => EF.Functions.ILike(p.Name, AuditLog.EscapeLike(name)), cancellationToken)) throw new PanelRefusedException($"A plan named '{name}' exists.", "Name");
        var plan = new Plan
        {
            SortOrder = await db.Plans.CountAsync(cancellationToken),
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        Apply(plan, name, input);
        CheckThrottle(plan);
        db.Plans.Add(plan);
        await SaveUniqueAsync(db, name, cancellationToken);
        await audit.RecordAsync(actor, AuditActions.PlanChanged, $"plan:{plan.Id}", $"created {name}: {Summary(plan)}", cancellationToken);
        return plan.Id;
    }

    /// <summary>
    /// Changes a plan's specs and prices (all input checked before anything is written). VPSes already on
    /// it keep the resources they were given until they change plan; the prices apply from the next invoice.
    /// Admins only; audited.
    /// </summary>
    public async Task UpdatePlanAsync(Actor actor, int planId, PlanInput input, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        var name = CheckPlan(input);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var plan = await db.Plans.FirstOrDefaultAsync(p => p.Id == planId, cancellationToken) ?? throw new PanelNotFoundException($"No plan #{planId}.");
        if (await db.Plans.AnyAsync(p => EF.Functions.ILike(p.Name, AuditLog.EscapeLike(name)) && p.Id != planId, cancellationToken)) throw new PanelRefusedException($"A plan named '{name}' exists.", "Name");
        var before = Summary(plan);
        Apply(plan, name, input);
        CheckThrottle(plan);
        await SaveUniqueAsync(db, name, cancellationToken);
        await audit.RecordAsync(actor, AuditActions.PlanChanged, $"plan:{plan.Id}", $"changed {name}: {before} → {Summary(plan)}", cancellationToken);
    }

    /// <summary>Retires a plan (no new orders; its VPSes keep it) or offers it again. Admins only; audited.</summary>
    public async Task SetPlanActiveAsync(Actor actor, int planId, bool active, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var plan = await db.Plans.FirstOrDefaultAsync(p => p.Id == planId, cancellationToken) ?? throw new PanelNotFoundException($"No plan #{planId}.");
        if (plan.Active == active)
        {
            return;
        }

        plan.Active = active;
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.PlanChanged, $"plan:{plan.Id}", active ? $"offered {plan.Name} again" : $"retired {plan.Name}", cancellationToken);
    }

    /// <summary>Every image with the nodes that have it. Admins only.</summary>
    public async Task<IReadOnlyList<ImageAdminView>> AdminImagesAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var images = await db.Images.AsNoTracking().OrderBy(i => i.SortOrder).ThenBy(i => i.Id).ToListAsync(cancellationToken);
        var nodes = await db.Nodes.AsNoTracking().OrderBy(n => n.Name).Select(n => new { n.Name, n.Images }).ToListAsync(cancellationToken);
        var servers = await db.Vpses.Where(v => v.DeletedAt == null).GroupBy(v => v.ImageId).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);
        return images.Select(i => new ImageAdminView(new ImageView(i.Id, i.Name, i.DisplayName, i.Active),
            nodes.Where(n => n.Images.Contains(i.Name)).Select(n => n.Name).ToList(), servers.GetValueOrDefault(i.Id))).ToList();
    }

    /// <summary>Offers an image for new orders and reinstalls, or withdraws it (VPSes installed with it keep running). Admins only; audited.</summary>
    public async Task SetImageActiveAsync(Actor actor, int imageId, bool active, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.FirstOrDefaultAsync(i => i.Id == imageId, cancellationToken) ?? throw new PanelNotFoundException($"No image #{imageId}.");
        if (image.Active == active)
        {
            return;
        }

        image.Active = active;
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.ImageChanged, $"image:{image.Id}", active ? $"enabled {image.Name}" : $"disabled {image.Name}", cancellationToken);
    }

    /// <summary>Checks a plan's input; returns its trimmed name.</summary>
    private static string CheckPlan(PlanInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var name = (input.Name ?? "").Trim();
        if (name.Length is 0 or > 80) throw new PanelRefusedException("A plan needs a name of up to 80 characters.", "Name");
        if (!Enum.IsDefined(input.Approach)) throw new PanelRefusedException("Choose an approach.", "Approach");
        if (input.Vcpus is < 1 or > 64) throw new PanelRefusedException("vCPUs must be 1-64.", "Vcpus");
        if (input.MemoryMiB is < 64 or > 1 << 20) throw new PanelRefusedException("Memory must be 64 MiB - 1 TiB.", "MemoryMiB");
        if (input.DiskGiB is < 1 or > 16384) throw new PanelRefusedException("Disk must be 1-16384 GiB.", "DiskGiB");
        if (input.PortSpeedMbit is < 1 or > 100_000) throw new PanelRefusedException("Port speed must be 1-100000 Mbit/s.", "PortSpeedMbit");
        if (input.MonthlyBandwidthGiB is < 1 or > 1 << 24) throw new PanelRefusedException("The traffic allowance must be 1 GiB - 16 PiB, or none.", "MonthlyBandwidthGiB");
        if (input.ThrottleMbit is { } throttle)
        {
            if (throttle is < 1 or > 100_000) throw new PanelRefusedException("The throttle speed must be 1-100000 Mbit/s, or none.", "ThrottleMbit");
            if (input.MonthlyBandwidthGiB is null) throw new PanelRefusedException("A throttle needs a traffic allowance to be used up first.", "ThrottleMbit");
            if (input.PortSpeedMbit is { } speed && throttle >= speed) throw new PanelRefusedException($"The throttle speed must be below the port speed ({speed} Mbit/s).", "ThrottleMbit");
        }

        if (input.Description is { Length: > 200 }) throw new PanelRefusedException("A description has at most 200 characters.", "Description");
        if (input.Prices is { } prices)
        {
            CheckPrices(prices);
        }

        return name;
    }

    private static void CheckPrices(PlanPrices prices)
    {
        ArgumentNullException.ThrowIfNull(prices);
        Money.CheckPrice(prices.MonthlyPrice, "MonthlyPrice");
        Money.CheckPrice(prices.HourlyPrice, "HourlyPrice");
        Money.CheckPrice(prices.SetupFee, "SetupFee");
        if (prices.PricePerExtraGb is { } perGb)
        {
            Money.CheckPrice(perGb, "PricePerExtraGb");
        }

        if (prices.HourlyPrice > prices.MonthlyPrice)
        {
            throw new PanelRefusedException("The hourly price cannot exceed the monthly price.", "HourlyPrice");
        }
    }

    /// <summary>A throttle and a price per extra GB exclude each other: traffic beyond the allowance is either slowed or charged.</summary>
    private static void CheckThrottle(Plan plan)
    {
        if (plan.ThrottleMbit is not null && plan.PricePerExtraGb is not null)
        {
            throw new PanelRefusedException("A plan either throttles or charges per extra GB once the allowance is used up: clear one of them.", "ThrottleMbit");
        }
    }

    private static void Apply(Plan plan, string name, PlanInput input)
    {
        plan.Name = name;
        plan.Description = string.IsNullOrWhiteSpace(input.Description) ? null : input.Description.Trim();
        plan.Approach = input.Approach;
        plan.Vcpus = input.Vcpus;
        plan.MemoryBytes = (long)input.MemoryMiB << 20;
        plan.DiskBytes = (long)input.DiskGiB << 30;
        plan.PortSpeedMbit = input.PortSpeedMbit;
        plan.MonthlyBandwidthBytes = input.MonthlyBandwidthGiB is { } gb ? (long)gb << 30 : null;
        plan.ThrottleMbit = input.ThrottleMbit;
        if (input.Prices is { } prices)
        {
            plan.MonthlyPrice = prices.MonthlyPrice;
            plan.HourlyPrice = prices.HourlyPrice;
            plan.SetupFee = prices.SetupFee;
            plan.PricePerExtraGb = prices.PricePerExtraGb;
        }
    }

    private static async Task SaveUniqueAsync(PanelDbContext db, string name, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            throw new PanelRefusedException($"A plan named '{name}' exists.", "Name");
        }
    }

    private static string Summary(Plan p) => FormattableString.Invariant(
        $"{p.Approach}, {p.Vcpus} vCPU, {p.MemoryBytes >> 20} MiB, {p.DiskBytes >> 30} GiB, {p.MonthlyPrice}/month, {p.HourlyPrice}/hour, setup {p.SetupFee}, extra GB {(p.PricePerExtraGb is { } g ? g.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-")}, throttle {(p.ThrottleMbit is { } t ? $"{t} Mbit/s" : "-")}");

    /// <summary>
    /// Sets a plan's prices (admins; audited). Prices are ≥ 0 with at most 4 decimals; the hourly price
    /// must not exceed the monthly one (the monthly price caps the hours). A change applies to every
    /// invoice issued from then on, for the whole period it covers.
    /// </summary>
    public async Task SetPricesAsync(Actor actor, int planId, PlanPrices prices, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        CheckPrices(prices);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var plan = await db.Plans.FirstOrDefaultAsync(p => p.Id == planId, cancellationToken) ?? throw new PanelRefusedException("No such plan.", "PlanId");
        plan.MonthlyPrice = prices.MonthlyPrice;
        plan.HourlyPrice = prices.HourlyPrice;
        plan.SetupFee = prices.SetupFee;
        plan.PricePerExtraGb = prices.PricePerExtraGb;
        CheckThrottle(plan);
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(actor, AuditActions.PlanPrices, $"plan:{plan.Id}",
            FormattableString.Invariant($"{plan.Name}: {prices.MonthlyPrice}/month, {prices.HourlyPrice}/hour, setup {prices.SetupFee}, extra GB {prices.PricePerExtraGb?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}"), cancellationToken);
    }

    /// <summary>A plan's prices (anyone signed in: they are on the order page).</summary>
    public async Task<PlanPrices> PricesAsync(Actor actor, int planId, CancellationToken cancellationToken = default)
    {
        Require.User(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Plans.AsNoTracking().Where(p => p.Id == planId && (p.Active || actor.IsAdmin))
                   .Select(p => new PlanPrices(p.MonthlyPrice, p.HourlyPrice, p.SetupFee, p.PricePerExtraGb)).FirstOrDefaultAsync(cancellationToken)
               ?? throw new PanelNotFoundException("No such plan.");
    }

    /// <summary>
    /// A first catalog for a new installation (only when there are no plans and no images): a small
    /// and a medium plan per approach, and the images <c>./panel images</c> builds.
    /// </summary>
    public async Task SeedDefaultsAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        if (!await db.Images.AnyAsync(cancellationToken))
        {
            db.Images.AddRange(
                new OsImage { Name = "debian-12", DisplayName = "Debian 12 (bookworm)", SortOrder = 0, CreatedAt = now },
                new OsImage { Name = "busybox", DisplayName = "BusyBox (tiny, for testing)", SortOrder = 1, CreatedAt = now });
        }

        if (!await db.Plans.AnyAsync(cancellationToken))
        {
            var order = 0;
            // Prices: about 730 hours make a month, so the hourly price reaches the monthly cap after ~27 days.
            // The Billing migration gives existing installations' seeded plans the same prices.
            Plan P(string name, VirtualizationKind approach, int cpus, int memMiB, int diskGiB, string description, decimal monthly, decimal hourly) => new()
            {
                Name = name, Approach = approach, Vcpus = cpus, MemoryBytes = (long)memMiB << 20, DiskBytes = (long)diskGiB << 30,
                Description = description, PortSpeedMbit = 100, MonthlyBandwidthBytes = 1L << 40, SortOrder = order++, CreatedAt = now,
                MonthlyPrice = monthly, HourlyPrice = hourly, SetupFee = 0m, PricePerExtraGb = 0.01m,
            };
            db.Plans.AddRange(
                P("Container S", VirtualizationKind.Container, 1, 512, 5, "1 vCPU, 512 MiB, 5 GiB - a small site or a bot", 4.00m, 0.0060m),
                P("Container M", VirtualizationKind.Container, 2, 2048, 20, "2 vCPUs, 2 GiB, 20 GiB - apps and databases", 12.00m, 0.0180m),
                P("Para-virtual S", VirtualizationKind.ParaVirtual, 1, 512, 5, "its own kernel: 1 vCPU, 512 MiB, 5 GiB", 5.00m, 0.0075m),
                P("VM S", VirtualizationKind.FullVm, 1, 1024, 10, "a full VM: 1 vCPU, 1 GiB, 10 GiB", 8.00m, 0.0120m));
        }

        await db.SaveChangesAsync(cancellationToken);
    }
}
