using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Networking;
using Panel.Core.Domain.Operations;

namespace Panel.Core.Persistence.Configurations;

internal sealed class PlanConfiguration : IEntityTypeConfiguration<Plan>
{
    public void Configure(EntityTypeBuilder<Plan> builder)
    {
        builder.ToTable("plans");
        builder.Property(p => p.Name).HasMaxLength(80);
        builder.HasIndex(p => p.Name).IsUnique();
        builder.Property(p => p.Description).HasMaxLength(500);
        builder.Property(p => p.Approach).HasConversion<string>().HasMaxLength(20);
        builder.Property(p => p.MonthlyPrice).HasPrecision(18, 4);
        builder.Property(p => p.HourlyPrice).HasPrecision(18, 4);
        builder.Property(p => p.SetupFee).HasPrecision(18, 4);
        builder.Property(p => p.PricePerExtraGb).HasPrecision(18, 4);
        builder.ToTable(t => t.HasCheckConstraint("ck_plans_throttle",
            "throttle_mbit IS NULL OR (throttle_mbit BETWEEN 1 AND 100000 AND monthly_bandwidth_bytes IS NOT NULL AND price_per_extra_gb IS NULL)"));
    }
}

internal sealed class OsImageConfiguration : IEntityTypeConfiguration<OsImage>
{
    public void Configure(EntityTypeBuilder<OsImage> builder)
    {
        builder.ToTable("images");
        builder.Property(i => i.Name).HasMaxLength(64);
        builder.HasIndex(i => i.Name).IsUnique();
        builder.Property(i => i.DisplayName).HasMaxLength(120);
    }
}

internal sealed class VpsConfiguration : IEntityTypeConfiguration<Vps>
{
    public void Configure(EntityTypeBuilder<Vps> builder)
    {
        builder.ToTable("vpses");
        builder.Property(v => v.EngineId).HasMaxLength(32);
        builder.HasIndex(v => v.EngineId).IsUnique();
        builder.Property(v => v.Hostname).HasMaxLength(253);
        // A host name is unique among one customer's live VPSes.
        builder.HasIndex(v => new { v.OwnerId, v.Hostname }).IsUnique().HasFilter("deleted_at IS NULL");
        builder.HasIndex(v => new { v.NodeId, v.Status });
        builder.Property(v => v.MacAddress).HasMaxLength(17);
        // The provisioning API's key: global, so calls by service id need no customer.
        builder.Property(v => v.ExternalServiceId).HasMaxLength(100);
        builder.HasIndex(v => v.ExternalServiceId).IsUnique().HasFilter("external_service_id IS NOT NULL");
        builder.Property(v => v.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(v => v.StatusReason).HasMaxLength(1000);
        builder.HasOne(v => v.Plan).WithMany().OnDelete(DeleteBehavior.Restrict);
        builder.HasOne(v => v.Image).WithMany().OnDelete(DeleteBehavior.Restrict);
        builder.HasOne(v => v.Node).WithMany().OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<Panel.Core.Domain.Nodes.Node>().WithMany().HasForeignKey(v => v.MigrationTargetNodeId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<Panel.Core.Domain.Accounts.PanelUser>().WithMany().HasForeignKey(v => v.OwnerId).OnDelete(DeleteBehavior.Restrict);
        builder.HasMany(v => v.Addresses).WithOne().HasForeignKey(a => a.VpsId).OnDelete(DeleteBehavior.SetNull);
        builder.Property(v => v.Version).IsRowVersion();
    }
}

internal sealed class IpPoolConfiguration : IEntityTypeConfiguration<IpPool>
{
    public void Configure(EntityTypeBuilder<IpPool> builder)
    {
        builder.ToTable("ip_pools");
        builder.Property(p => p.Name).HasMaxLength(80);
        builder.HasIndex(p => p.Name).IsUnique();
        builder.Property(p => p.Network).HasMaxLength(50);
        builder.Property(p => p.Gateway).HasMaxLength(50);
        builder.HasOne<Panel.Core.Domain.Nodes.Node>().WithMany().HasForeignKey(p => p.NodeId).OnDelete(DeleteBehavior.Restrict);
        builder.HasMany(p => p.Addresses).WithOne(a => a.Pool).HasForeignKey(a => a.PoolId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class IpAddressConfiguration : IEntityTypeConfiguration<IpAddress>
{
    public void Configure(EntityTypeBuilder<IpAddress> builder)
    {
        builder.ToTable("ip_addresses");
        builder.Property(a => a.Address).HasColumnType("inet");
        // Unique address: ux_ip_addresses_address, made in SQL by the Provisioning migration (EF cannot index IPAddress as unique).
        // Free addresses of a pool, in order: what allocation scans.
        builder.HasIndex(a => new { a.PoolId, a.Address }).HasFilter("vps_id IS NULL").HasDatabaseName("ix_ip_addresses_free");
    }
}

internal sealed class OperationConfiguration : IEntityTypeConfiguration<Operation>
{
    public void Configure(EntityTypeBuilder<Operation> builder)
    {
        builder.ToTable("operations");
        builder.Property(o => o.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(o => o.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(o => o.ActorName).HasMaxLength(256);
        builder.Property(o => o.Step).HasMaxLength(500);
        builder.Property(o => o.Error).HasMaxLength(2000);
        builder.Property(o => o.Parameters).HasColumnType("jsonb");
        builder.Property(o => o.JobId).HasMaxLength(64);
        builder.HasIndex(o => new { o.VpsId, o.CreatedAt });
        builder.HasIndex(o => new { o.Status, o.NodeId });
        builder.HasOne<Vps>().WithMany().HasForeignKey(o => o.VpsId).OnDelete(DeleteBehavior.Restrict);
        builder.HasMany(o => o.Events).WithOne().HasForeignKey(e => e.OperationId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class OperationEventConfiguration : IEntityTypeConfiguration<OperationEvent>
{
    public void Configure(EntityTypeBuilder<OperationEvent> builder)
    {
        builder.ToTable("operation_events");
        builder.Property(e => e.Message).HasMaxLength(2000);
        builder.HasIndex(e => new { e.OperationId, e.Id });
    }
}

internal sealed class VpsSnapshotConfiguration : IEntityTypeConfiguration<VpsSnapshot>
{
    public void Configure(EntityTypeBuilder<VpsSnapshot> builder)
    {
        builder.ToTable("vps_snapshots");
        builder.Property(s => s.Name).HasMaxLength(64);
        builder.HasIndex(s => new { s.VpsId, s.Name }).IsUnique();
        builder.HasOne<Vps>().WithMany().HasForeignKey(s => s.VpsId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class VpsBackupConfiguration : IEntityTypeConfiguration<VpsBackup>
{
    public void Configure(EntityTypeBuilder<VpsBackup> builder)
    {
        builder.ToTable("vps_backups");
        builder.Property(b => b.Archive).HasMaxLength(1000);
        builder.Property(b => b.Consistency).HasMaxLength(200);
        builder.HasIndex(b => new { b.VpsId, b.CreatedAt });
        builder.HasIndex(b => b.OperationId).IsUnique();
        builder.HasOne<Vps>().WithMany().HasForeignKey(b => b.VpsId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class VpsMetricConfiguration : IEntityTypeConfiguration<Panel.Core.Domain.Metrics.VpsMetric>
{
    public void Configure(EntityTypeBuilder<Panel.Core.Domain.Metrics.VpsMetric> builder)
    {
        builder.ToTable("vps_metrics");
        builder.HasKey(m => new { m.VpsId, m.At }); // one sample per VPS per minute, whoever measures
        builder.HasIndex(m => m.At); // retention
        builder.HasOne<Vps>().WithMany().HasForeignKey(m => m.VpsId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class VpsMetricHourConfiguration : IEntityTypeConfiguration<Panel.Core.Domain.Metrics.VpsMetricHour>
{
    public void Configure(EntityTypeBuilder<Panel.Core.Domain.Metrics.VpsMetricHour> builder)
    {
        builder.ToTable("vps_metric_hours");
        builder.HasKey(m => new { m.VpsId, m.Hour });
        builder.HasIndex(m => m.Hour);
        builder.HasOne<Vps>().WithMany().HasForeignKey(m => m.VpsId).OnDelete(DeleteBehavior.Cascade);
    }
}
