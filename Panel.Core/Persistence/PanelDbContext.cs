using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Nodes;
using Panel.Core.Domain.Settings;

namespace Panel.Core.Persistence;

/// <summary>
/// The panel's database: Identity, Data Protection keys and the domain. Table and column names
/// are snake_case (EFCore.NamingConventions); entity mappings live in <c>Configurations/</c>.
/// </summary>
public sealed class PanelDbContext(DbContextOptions<PanelDbContext> options)
    : IdentityDbContext<PanelUser, IdentityRole<Guid>, Guid>(options), IDataProtectionKeyContext
{
    /// <summary>Data Protection key ring, so cookies and antiforgery tokens survive restarts.</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    /// <summary>Installation-wide settings.</summary>
    public DbSet<Setting> Settings => Set<Setting>();

    /// <summary>The audit log.</summary>
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();

    /// <summary>The physical nodes that run the engine.</summary>
    public DbSet<Node> Nodes => Set<Node>();

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);

        // Identity's AspNet* names become plain snake_case tables.
        builder.Entity<PanelUser>().ToTable("users");
        builder.Entity<IdentityRole<Guid>>().ToTable("roles");
        builder.Entity<IdentityUserRole<Guid>>().ToTable("user_roles");
        builder.Entity<IdentityUserClaim<Guid>>().ToTable("user_claims");
        builder.Entity<IdentityUserLogin<Guid>>().ToTable("user_logins");
        builder.Entity<IdentityUserToken<Guid>>().ToTable("user_tokens");
        builder.Entity<IdentityRoleClaim<Guid>>().ToTable("role_claims");
        builder.Entity<DataProtectionKey>().ToTable("data_protection_keys");

        builder.ApplyConfigurationsFromAssembly(typeof(PanelDbContext).Assembly);
    }
}
