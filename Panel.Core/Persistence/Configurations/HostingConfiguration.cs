using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Hosting;

namespace Panel.Core.Persistence.Configurations;

internal sealed class HostingPlanConfiguration : IEntityTypeConfiguration<HostingPlan>
{
    public void Configure(EntityTypeBuilder<HostingPlan> builder)
    {
        builder.ToTable("hosting_plans", t => t.HasCheckConstraint("ck_hosting_plans_sites", "max_sites > 0"));
        builder.Property(p => p.Name).HasMaxLength(100);
        builder.HasIndex(p => p.Name).IsUnique();
        builder.Property(p => p.MonthlyPrice).HasPrecision(18, 4);
        builder.HasOne<Plan>().WithMany().HasForeignKey(p => p.ComputePlanId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class HostingSpaceConfiguration : IEntityTypeConfiguration<HostingSpace>
{
    public void Configure(EntityTypeBuilder<HostingSpace> builder)
    {
        builder.ToTable("hosting_spaces");
        builder.HasIndex(s => s.OwnerId).IsUnique(); // one container per tenant
        builder.HasIndex(s => s.SftpPort).IsUnique(); // one gateway port per space
        builder.Property(s => s.SftpPasswordHash).HasMaxLength(200);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(s => s.OwnerId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne(s => s.Plan).WithMany().HasForeignKey(s => s.PlanId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne(s => s.Vps).WithMany().HasForeignKey(s => s.VpsId).OnDelete(DeleteBehavior.SetNull);
        builder.HasMany(s => s.Sites).WithOne(s => s.Space).HasForeignKey(s => s.SpaceId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class SiteConfiguration : IEntityTypeConfiguration<Site>
{
    public void Configure(EntityTypeBuilder<Site> builder)
    {
        builder.ToTable("sites");
        builder.Property(s => s.Domain).HasMaxLength(253);
        builder.Property(s => s.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(s => s.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(s => s.StatusReason).HasMaxLength(500);
        builder.Property(s => s.CertificateSource).HasConversion<string>().HasMaxLength(20).HasDefaultValue(CertificateSource.PanelCa).HasSentinel((CertificateSource)(-1));
        builder.Property(s => s.CertificateProblem).HasMaxLength(1000);
        builder.Property(s => s.Command).HasMaxLength(Hosting.SiteCommand.MaxLength);
        builder.HasIndex(s => new { s.SpaceId, s.Port }).IsUnique();
        builder.HasMany(s => s.Names).WithOne().HasForeignKey(d => d.SiteId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class SiteDomainConfiguration : IEntityTypeConfiguration<SiteDomain>
{
    public void Configure(EntityTypeBuilder<SiteDomain> builder)
    {
        builder.ToTable("site_domains");
        builder.Property(d => d.Name).HasMaxLength(253);
        // Globally unique: a domain (or alias) belongs to one site of one tenant.
        builder.HasIndex(d => d.Name).IsUnique();
    }
}

internal sealed class EdgeCertificateConfiguration : IEntityTypeConfiguration<EdgeCertificate>
{
    public void Configure(EntityTypeBuilder<EdgeCertificate> builder)
    {
        builder.ToTable("edge_certificates");
        // One row per site, and one CA (site_id null): NULLS NOT DISTINCT.
        builder.HasIndex(c => c.SiteId).IsUnique().AreNullsDistinct(false);
        builder.HasIndex(c => c.NotAfter);
        builder.Property(c => c.Source).HasConversion<string>().HasMaxLength(20).HasDefaultValue(CertificateSource.PanelCa).HasSentinel((CertificateSource)(-1));
        builder.Property(c => c.Issuer).HasMaxLength(500).HasDefaultValue("");
        builder.HasOne<Site>().WithMany().HasForeignKey(c => c.SiteId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class AcmeAccountConfiguration : IEntityTypeConfiguration<AcmeAccount>
{
    public void Configure(EntityTypeBuilder<AcmeAccount> builder)
    {
        builder.ToTable("acme_accounts");
        builder.Property(a => a.DirectoryUrl).HasMaxLength(500);
        builder.HasIndex(a => a.DirectoryUrl).IsUnique(); // one account per ACME server; two first orders at once keep one
        builder.Property(a => a.AccountUrl).HasMaxLength(500);
        builder.Property(a => a.Contact).HasMaxLength(320);
    }
}

internal sealed class AcmeChallengeConfiguration : IEntityTypeConfiguration<AcmeChallenge>
{
    public void Configure(EntityTypeBuilder<AcmeChallenge> builder)
    {
        builder.ToTable("acme_challenges");
        builder.HasKey(c => c.Token);
        builder.Property(c => c.Token).HasMaxLength(200);
        builder.Property(c => c.Name).HasMaxLength(253);
        builder.Property(c => c.KeyAuthorization).HasMaxLength(300);
        builder.HasIndex(c => c.SiteId);
        builder.HasOne<Site>().WithMany().HasForeignKey(c => c.SiteId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class SiteTrafficConfiguration : IEntityTypeConfiguration<SiteTraffic>
{
    public void Configure(EntityTypeBuilder<SiteTraffic> builder)
    {
        builder.ToTable("site_traffic");
        builder.HasKey(t => new { t.SiteId, t.HourStart });
        builder.HasOne<Site>().WithMany().HasForeignKey(t => t.SiteId).OnDelete(DeleteBehavior.Cascade);
    }
}
