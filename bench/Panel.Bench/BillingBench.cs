using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;
using Panel.Core;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Nodes;
using Panel.Core.Persistence;
using Panel.Core.Services;
using Panel.Hypervisor.Instances;

namespace Panel.Bench;

/// <summary>
/// Billing at scale, on a scratch database: 10,000 customers with 30,000 VPSes, one month of hourly
/// metering (the real <see cref="UsageMeter"/>, run once per simulated day of January) and
/// the real invoice run (<see cref="InvoicingService.IssueDueAsync"/>: 10,000 invoices with numbers,
/// tax and settlement), beside a raw Npgsql binary COPY of the same usage rows into a table with the
/// same keys and indexes (the reference: the least the database can do to store them). Also one steady
/// hourly metering run (30,000 rows).
/// </summary>
public static class BillingBench
{
    private const int Customers = 10_000, VpsesPerCustomer = 3;
    private static readonly DateTime MonthStart = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime MonthEnd = MonthStart.AddMonths(1);

    /// <summary>Runs the suite.</summary>
    public static async Task<BenchReport> RunAsync()
    {
        var admin = Environment.GetEnvironmentVariable("PANEL_BENCH_PG")
            ?? throw new InvalidOperationException("PANEL_BENCH_PG is not set: run ./panel bench billing");
        var database = "panel_bench_" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
        await ExecAsync(admin, $"CREATE DATABASE \"{database}\"");
        var connection = new NpgsqlConnectionStringBuilder(admin) { Database = database, CommandTimeout = 1800 }.ConnectionString;
        var rows = new List<BenchRow>();
        var figures = new Dictionary<string, double>();
        var notes = new List<string>();
        try
        {
            var options = new DbContextOptionsBuilder<PanelDbContext>();
            PanelDatabase.Configure(options, connection);
            await using (var db = new PanelDbContext(options.Options))
            {
                await PanelDatabase.MigrateAsync(db);
            }

            var clock = new BenchClock(MonthEnd.AddMinutes(30));
            var services = new ServiceCollection();
            services.AddLogging();
            services.AddDataProtection().UseEphemeralDataProtectionProvider();
            services.AddPanelCore(connection, new PanelOptions { Jobs = { RunServer = false } });
            services.AddSingleton<TimeProvider>(clock);
            await using var sp = services.BuildServiceProvider();

            var setup = Stopwatch.StartNew();
            var vpses = await SeedAsync(options.Options);
            figures["setup_seconds"] = Math.Round(setup.Elapsed.TotalSeconds, 1);
            await using (var scope = sp.CreateAsyncScope())
            {
                var taxes = scope.ServiceProvider.GetRequiredService<TaxService>();
                await taxes.SetSellerAsync(Actor.System, new SellerDetails("DE", "Bench GmbH", null, null));
                await taxes.SetRateAsync(Actor.System, "DE", 19m);
            }

            // 1. One month of metering with the real job's statement, run once per simulated day (each run
            //    catches up 24 hours of every VPS: 720,000 rows; one catch-up of the whole month exceeds the
            //    statement's 10-minute timeout on this machine).
            var meter = Stopwatch.StartNew();
            var metered = 0;
            var daily = new List<double>();
            for (var day = MonthStart.AddDays(1); day <= MonthEnd; day = day.AddDays(1))
            {
                clock.Set(day.AddMinutes(5));
                var one = Stopwatch.StartNew();
                await using var scope = sp.CreateAsyncScope();
                metered += await scope.ServiceProvider.GetRequiredService<UsageMeter>().MeterAsync();
                daily.Add(one.Elapsed.TotalMilliseconds);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  metered up to {day:yyyy-MM-dd}: {metered} rows, {meter.Elapsed.TotalSeconds:0} s"));
            }

            clock.Set(MonthEnd.AddMinutes(30));
            var meterSeconds = meter.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"metering: {metered} VPS-hours in {meterSeconds:0.0} s"));

            // 2. The invoice run: every customer's January invoice.
            var run = Stopwatch.StartNew();
            InvoiceRunReport report;
            await using (var scope = sp.CreateAsyncScope())
            {
                report = await scope.ServiceProvider.GetRequiredService<InvoicingService>().IssueDueAsync();
            }

            var invoiceSeconds = run.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"invoice run: {report.Issued} invoices in {invoiceSeconds:0.0} s"));

            // 3. A steady hourly run: the next hour of every live VPS.
            clock.Set(MonthEnd.AddHours(1).AddMinutes(5));
            var hourly = Stopwatch.StartNew();
            int hourRows;
            await using (var scope = sp.CreateAsyncScope())
            {
                hourRows = await scope.ServiceProvider.GetRequiredService<UsageMeter>().MeterAsync();
            }

            var hourlySeconds = hourly.Elapsed.TotalSeconds;

            // 4. The reference: the same January rows, generated here, binary COPY into a table with the same key and indexes.
            await ExecAsync(connection, "CREATE TABLE usage_ref (LIKE usage_hours INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)");
            var copy = Stopwatch.StartNew();
            long copied = 0;
            await using (var conn = new NpgsqlConnection(connection))
            {
                await conn.OpenAsync();
                await using var writer = await conn.BeginBinaryImportAsync("COPY usage_ref (vps_id, hour_start, owner_id, plan_id, status, billable) FROM STDIN (FORMAT BINARY)");
                foreach (var v in vpses)
                {
                    var end = v.DeletedAt ?? MonthEnd;
                    for (var h = new DateTime(v.CreatedAt.Ticks - (v.CreatedAt.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc); h < end && h < MonthEnd; h = h.AddHours(1))
                    {
                        await writer.StartRowAsync();
                        await writer.WriteAsync(v.Id, NpgsqlDbType.Integer);
                        await writer.WriteAsync(h, NpgsqlDbType.TimestampTz);
                        await writer.WriteAsync(v.OwnerId, NpgsqlDbType.Uuid);
                        await writer.WriteAsync(v.PlanId, NpgsqlDbType.Integer);
                        await writer.WriteAsync(v.Status.ToString(), NpgsqlDbType.Varchar);
                        await writer.WriteAsync(true, NpgsqlDbType.Boolean);
                        copied++;
                    }
                }

                await writer.CompleteAsync();
            }

            var copySeconds = copy.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"raw binary COPY: {copied} rows in {copySeconds:0.0} s"));

            rows.Add(new BenchRow("month of metering (30,000 VPSes)", "s", One(meterSeconds), One(copySeconds), "raw Npgsql binary COPY of the same rows into a table with the same key and indexes", null));
            rows.Add(new BenchRow("invoice run (10,000 invoices)", "s", One(invoiceSeconds), null, null, null));
            rows.Add(new BenchRow("metering + invoice run", "s", One(meterSeconds + invoiceSeconds), null, null, null));
            rows.Add(new BenchRow("one hourly metering run", "ms", One(hourlySeconds * 1000), null, null, null));
            rows.Add(new BenchRow("one day's metering run (720,000 rows)", "ms", Stats.Of(daily), null, null, null));
            figures["customers"] = Customers;
            figures["vpses"] = vpses.Count;
            figures["usage_rows_metered"] = metered;
            figures["usage_rows_copied"] = copied;
            figures["invoices_issued"] = report.Issued;
            figures["invoices_paid_from_credit"] = report.PaidFromCredit;
            figures["hourly_run_rows"] = hourRows;
            figures["metering_rows_per_second"] = Math.Round(metered / meterSeconds);
            figures["copy_rows_per_second"] = Math.Round(copied / copySeconds);
            figures["invoices_per_second"] = Math.Round(report.Issued / invoiceSeconds, 1);
            figures["goal_seconds"] = 60;
            var total = meterSeconds + invoiceSeconds;
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"metering + invoice run: {total:0.0} s against the goal of 60 s: {(total <= 60 ? "met" : "missed")}."));
            notes.Add("Metering is one INSERT … SELECT … ON CONFLICT DO NOTHING per run (LATERAL last hour per VPS, generate_series of the missing hours); the reference has no foreign keys and no ON CONFLICT check.");
            notes.Add("The invoice run issues one transaction per invoice (account lock, lines, coupon, tax, the year's counter row locked for gap-free numbers, settlement, audit), one customer after another.");
            if (metered != copied)
            {
                notes.Add(string.Create(CultureInfo.InvariantCulture, $"row counts differ: metered {metered}, copied {copied}"));
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecAsync(admin, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
        }

        var machine = new Dictionary<string, string>
        {
            ["cpus"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        };
        return new BenchReport("billing", DateTime.UtcNow, machine, rows, figures, notes);
    }

    private static Stats One(double value) => Stats.Of([value]);

    /// <summary>Customers, plans, a node, an image and VPSes, written with EF in batches. Returns the VPSes.</summary>
    private static async Task<List<Vps>> SeedAsync(DbContextOptions<PanelDbContext> options)
    {
        var random = new Random(7);
        var now = MonthStart.AddDays(-31);
        int nodeId, imageId;
        List<Plan> plans;
        await using (var db = new PanelDbContext(options))
        {
            var node = new Node { Name = "bench", Hostname = "bench", GuestNetwork = "10.250.0.1/24", RegisteredAt = now, LastHeartbeatAt = now };
            var image = new OsImage { Name = "busybox", DisplayName = "BusyBox", CreatedAt = now };
            plans =
            [
                Plan("Bench S", 4.00m, 0.0060m), Plan("Bench M", 12.00m, 0.0180m), Plan("Bench L", 24.00m, 0.0360m), Plan("Bench XL", 48.00m, 0.0720m),
            ];
            db.Nodes.Add(node);
            db.Images.Add(image);
            db.Plans.AddRange(plans);
            await db.SaveChangesAsync();
            (nodeId, imageId) = (node.Id, image.Id);
        }

        var vpses = new List<Vps>();
        for (var batch = 0; batch < Customers / 1000; batch++)
        {
            await using var db = new PanelDbContext(options);
            db.ChangeTracker.AutoDetectChangesEnabled = false;
            for (var c = 0; c < 1000; c++)
            {
                var email = FormattableString.Invariant($"customer{batch * 1000 + c}@bench.example");
                var user = new PanelUser
                {
                    Id = Guid.NewGuid(), UserName = email, NormalizedUserName = email.ToUpperInvariant(), Email = email, NormalizedEmail = email.ToUpperInvariant(),
                    SecurityStamp = Guid.NewGuid().ToString("N"), DisplayName = email, CreatedAt = now, // billing day 1: January is one period
                };
                db.Users.Add(user);
                for (var v = 0; v < VpsesPerCustomer; v++)
                {
                    var created = MonthStart.AddMinutes(random.Next(0, 24 * 60));
                    DateTime? deleted = random.Next(10) == 0 ? created.AddHours(random.Next(1, 600)) : null;
                    var engineId = "b" + Guid.NewGuid().ToString("N")[..12];
                    var plan = plans[random.Next(plans.Count)];
                    var vps = new Vps
                    {
                        EngineId = engineId, OwnerId = user.Id, Hostname = engineId + ".bench.example", PlanId = plan.Id, ImageId = imageId,
                        NodeId = deleted is null ? nodeId : null, MacAddress = "02:00:00:00:00:01", Vcpus = 1, MemoryBytes = 512L << 20, DiskBytes = 5L << 30,
                        MaxProcesses = 512, Status = deleted is null ? VpsStatus.Running : VpsStatus.Deleted, CreatedAt = created, UpdatedAt = created, DeletedAt = deleted,
                    };
                    db.Vpses.Add(vps);
                    vpses.Add(vps);
                }
            }

            await db.SaveChangesAsync();
        }

        return vpses;

        static Plan Plan(string name, decimal monthly, decimal hourly) => new()
        {
            Name = name, Approach = VirtualizationKind.Container, Vcpus = 1, MemoryBytes = 512L << 20, DiskBytes = 5L << 30,
            MonthlyPrice = monthly, HourlyPrice = hourly, CreatedAt = MonthStart,
        };
    }

    private static async Task ExecAsync(string connection, string sql)
    {
        await using var conn = new NpgsqlConnection(connection);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>The bench's clock: January has just ended.</summary>
    private sealed class BenchClock(DateTime start) : TimeProvider
    {
        private DateTime now = start;

        public override DateTimeOffset GetUtcNow() => new(now, TimeSpan.Zero);

        public void Set(DateTime utc) => now = utc;
    }
}
