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

    /// <summary>Plans.</summary>
    public DbSet<Panel.Core.Domain.Compute.Plan> Plans => Set<Panel.Core.Domain.Compute.Plan>();

    /// <summary>OS images.</summary>
    public DbSet<Panel.Core.Domain.Compute.OsImage> Images => Set<Panel.Core.Domain.Compute.OsImage>();

    /// <summary>VPSes.</summary>
    public DbSet<Panel.Core.Domain.Compute.Vps> Vpses => Set<Panel.Core.Domain.Compute.Vps>();

    /// <summary>VPS snapshots.</summary>
    public DbSet<Panel.Core.Domain.Compute.VpsSnapshot> VpsSnapshots => Set<Panel.Core.Domain.Compute.VpsSnapshot>();

    /// <summary>Per-minute usage of VPSes.</summary>
    public DbSet<Panel.Core.Domain.Metrics.VpsMetric> VpsMetrics => Set<Panel.Core.Domain.Metrics.VpsMetric>();

    /// <summary>Hourly usage of VPSes.</summary>
    public DbSet<Panel.Core.Domain.Metrics.VpsMetricHour> VpsMetricHours => Set<Panel.Core.Domain.Metrics.VpsMetricHour>();

    /// <summary>Backups of VPSes.</summary>
    public DbSet<Panel.Core.Domain.Compute.VpsBackup> VpsBackups => Set<Panel.Core.Domain.Compute.VpsBackup>();

    /// <summary>IP pools.</summary>
    public DbSet<Panel.Core.Domain.Networking.IpPool> IpPools => Set<Panel.Core.Domain.Networking.IpPool>();

    /// <summary>IP addresses.</summary>
    public DbSet<Panel.Core.Domain.Networking.IpAddress> IpAddresses => Set<Panel.Core.Domain.Networking.IpAddress>();

    /// <summary>The operation log.</summary>
    public DbSet<Panel.Core.Domain.Operations.Operation> Operations => Set<Panel.Core.Domain.Operations.Operation>();

    /// <summary>Operation steps.</summary>
    public DbSet<Panel.Core.Domain.Operations.OperationEvent> OperationEvents => Set<Panel.Core.Domain.Operations.OperationEvent>();

    /// <summary>Metered usage of VPSes: stretches of hours in one billing state.</summary>
    public DbSet<Panel.Core.Domain.Billing.UsageSegment> UsageSegments => Set<Panel.Core.Domain.Billing.UsageSegment>();

    /// <summary>The meter's watermark (one row).</summary>
    public DbSet<Panel.Core.Domain.Billing.UsageWatermark> UsageWatermarks => Set<Panel.Core.Domain.Billing.UsageWatermark>();

    /// <summary>VPSes the meter has to look at (written by triggers on <c>vpses</c>).</summary>
    public DbSet<Panel.Core.Domain.Billing.UsageChange> UsageChanges => Set<Panel.Core.Domain.Billing.UsageChange>();

    /// <summary>Traffic of VPSes per UTC day.</summary>
    public DbSet<Panel.Core.Domain.Billing.VpsTrafficDay> VpsTrafficDays => Set<Panel.Core.Domain.Billing.VpsTrafficDay>();

    /// <summary>The last counted port-counter sample per VPS.</summary>
    public DbSet<Panel.Core.Domain.Billing.VpsTrafficCounter> VpsTrafficCounters => Set<Panel.Core.Domain.Billing.VpsTrafficCounter>();

    /// <summary>Customers' billing accounts (billing day; the per-customer lock).</summary>
    public DbSet<Panel.Core.Domain.Billing.BillingAccount> BillingAccounts => Set<Panel.Core.Domain.Billing.BillingAccount>();

    /// <summary>Invoices.</summary>
    public DbSet<Panel.Core.Domain.Billing.Invoice> Invoices => Set<Panel.Core.Domain.Billing.Invoice>();

    /// <summary>Invoice lines.</summary>
    public DbSet<Panel.Core.Domain.Billing.InvoiceLine> InvoiceLines => Set<Panel.Core.Domain.Billing.InvoiceLine>();

    /// <summary>Invoice number counters, one per year.</summary>
    public DbSet<Panel.Core.Domain.Billing.InvoiceCounter> InvoiceCounters => Set<Panel.Core.Domain.Billing.InvoiceCounter>();

    /// <summary>Customers' append-only ledgers.</summary>
    public DbSet<Panel.Core.Domain.Billing.LedgerEntry> LedgerEntries => Set<Panel.Core.Domain.Billing.LedgerEntry>();

    /// <summary>Charges of invoices through the payment gateway.</summary>
    public DbSet<Panel.Core.Domain.Billing.PaymentAttempt> PaymentAttempts => Set<Panel.Core.Domain.Billing.PaymentAttempt>();

    /// <summary>Mail waiting to be sent (and sent mail).</summary>
    public DbSet<Panel.Core.Domain.Mail.OutboxMail> MailOutbox => Set<Panel.Core.Domain.Mail.OutboxMail>();

    /// <summary>Dunning steps taken, one per invoice and step.</summary>
    public DbSet<Panel.Core.Domain.Billing.DunningEvent> DunningEvents => Set<Panel.Core.Domain.Billing.DunningEvent>();

    /// <summary>VPSes suspended by dunning.</summary>
    public DbSet<Panel.Core.Domain.Billing.DunningSuspension> DunningSuspensions => Set<Panel.Core.Domain.Billing.DunningSuspension>();

    /// <summary>Tax rates per country.</summary>
    public DbSet<Panel.Core.Domain.Billing.TaxRate> TaxRates => Set<Panel.Core.Domain.Billing.TaxRate>();

    /// <summary>Coupons.</summary>
    public DbSet<Panel.Core.Domain.Billing.Coupon> Coupons => Set<Panel.Core.Domain.Billing.Coupon>();

    /// <summary>Customers' coupon redemptions.</summary>
    public DbSet<Panel.Core.Domain.Billing.CouponRedemption> CouponRedemptions => Set<Panel.Core.Domain.Billing.CouponRedemption>();

    /// <summary>Credit notes.</summary>
    public DbSet<Panel.Core.Domain.Billing.CreditNote> CreditNotes => Set<Panel.Core.Domain.Billing.CreditNote>();

    /// <summary>Credit note number counters, one per year.</summary>
    public DbSet<Panel.Core.Domain.Billing.CreditNoteCounter> CreditNoteCounters => Set<Panel.Core.Domain.Billing.CreditNoteCounter>();

    /// <summary>Customers' saved SSH public keys.</summary>
    public DbSet<Panel.Core.Domain.Access.SshKey> SshKeys => Set<Panel.Core.Domain.Access.SshKey>();

    /// <summary>Hosting plans.</summary>
    public DbSet<Panel.Core.Domain.Hosting.HostingPlan> HostingPlans => Set<Panel.Core.Domain.Hosting.HostingPlan>();

    /// <summary>Tenants' hosting spaces (one container each).</summary>
    public DbSet<Panel.Core.Domain.Hosting.HostingSpace> HostingSpaces => Set<Panel.Core.Domain.Hosting.HostingSpace>();

    /// <summary>Websites.</summary>
    public DbSet<Panel.Core.Domain.Hosting.Site> Sites => Set<Panel.Core.Domain.Hosting.Site>();

    /// <summary>Names of websites (domains and aliases), unique across tenants.</summary>
    public DbSet<Panel.Core.Domain.Hosting.SiteDomain> SiteDomains => Set<Panel.Core.Domain.Hosting.SiteDomain>();

    /// <summary>The edge's CA and site certificates.</summary>
    public DbSet<Panel.Core.Domain.Hosting.EdgeCertificate> EdgeCertificates => Set<Panel.Core.Domain.Hosting.EdgeCertificate>();

    /// <summary>The installation's ACME accounts (one per ACME server).</summary>
    public DbSet<Panel.Core.Domain.Hosting.AcmeAccount> AcmeAccounts => Set<Panel.Core.Domain.Hosting.AcmeAccount>();

    /// <summary>Pending HTTP-01 challenges the edge answers.</summary>
    public DbSet<Panel.Core.Domain.Hosting.AcmeChallenge> AcmeChallenges => Set<Panel.Core.Domain.Hosting.AcmeChallenge>();

    /// <summary>Bytes per site and day through the edge.</summary>
    public DbSet<Panel.Core.Domain.Hosting.SiteTraffic> SiteTraffic => Set<Panel.Core.Domain.Hosting.SiteTraffic>();

    /// <summary>API tokens (hashed secrets).</summary>
    public DbSet<Panel.Core.Domain.Api.ApiToken> ApiTokens => Set<Panel.Core.Domain.Api.ApiToken>();

    /// <summary>First answers of mutating API calls, per token and Idempotency-Key.</summary>
    public DbSet<Panel.Core.Domain.Api.ApiIdempotencyRecord> ApiIdempotency => Set<Panel.Core.Domain.Api.ApiIdempotencyRecord>();

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
