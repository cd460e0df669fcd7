using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;

namespace Panel.Core.Persistence.Configurations;

// Money: prices numeric(18,4), amounts numeric(18,2) (BillingRules). Append-only and immutability
// triggers on ledger_entries, invoices and invoice_lines are made in SQL by the Billing migration.

internal sealed class UsageSegmentConfiguration : IEntityTypeConfiguration<UsageSegment>
{
    public void Configure(EntityTypeBuilder<UsageSegment> builder)
    {
        builder.ToTable("usage_segments", t => t.HasCheckConstraint("ck_usage_segments_hours", "to_hour IS NULL OR to_hour > from_hour"));
        builder.Property(u => u.Id).UseIdentityAlwaysColumn();
        builder.Property(u => u.Status).HasMaxLength(20);
        // At most one open segment per VPS: what the metering run compares the VPS's state with.
        builder.HasIndex(u => u.VpsId).IsUnique().HasFilter("to_hour IS NULL").HasDatabaseName("ix_usage_segments_open");
        builder.HasIndex(u => new { u.VpsId, u.FromHour });
        // What invoicing and the usage pages read: a customer's segments.
        builder.HasIndex(u => new { u.OwnerId, u.FromHour });
        builder.HasOne<Vps>().WithMany().HasForeignKey(u => u.VpsId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<Plan>().WithMany().HasForeignKey(u => u.PlanId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(u => u.OwnerId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class UsageWatermarkConfiguration : IEntityTypeConfiguration<UsageWatermark>
{
    public void Configure(EntityTypeBuilder<UsageWatermark> builder)
    {
        builder.ToTable("usage_watermark", t => t.HasCheckConstraint("ck_usage_watermark_single", $"id = {UsageWatermark.SingletonId}"));
        builder.Property(w => w.Id).ValueGeneratedNever();
    }
}

internal sealed class UsageChangeConfiguration : IEntityTypeConfiguration<UsageChange>
{
    public void Configure(EntityTypeBuilder<UsageChange> builder)
    {
        // Filled by the triggers vpses_usage_inserted and vpses_usage_changed (UsageSegments migration).
        builder.ToTable("usage_changes");
        builder.HasKey(c => c.VpsId);
        builder.Property(c => c.VpsId).ValueGeneratedNever();
        builder.HasOne<Vps>().WithOne().HasForeignKey<UsageChange>(c => c.VpsId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class VpsTrafficDayConfiguration : IEntityTypeConfiguration<VpsTrafficDay>
{
    public void Configure(EntityTypeBuilder<VpsTrafficDay> builder)
    {
        builder.ToTable("vps_traffic_days", t => t.HasCheckConstraint("ck_vps_traffic_days_bytes", "bytes >= 0"));
        builder.HasKey(t => new { t.VpsId, t.Day });
        builder.HasOne<Vps>().WithMany().HasForeignKey(t => t.VpsId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class VpsTrafficCounterConfiguration : IEntityTypeConfiguration<VpsTrafficCounter>
{
    public void Configure(EntityTypeBuilder<VpsTrafficCounter> builder)
    {
        builder.ToTable("vps_traffic_counters");
        builder.HasKey(t => t.VpsId);
        builder.Property(t => t.VpsId).ValueGeneratedNever();
        builder.HasOne<Vps>().WithOne().HasForeignKey<VpsTrafficCounter>(t => t.VpsId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class BillingAccountConfiguration : IEntityTypeConfiguration<BillingAccount>
{
    public void Configure(EntityTypeBuilder<BillingAccount> builder)
    {
        builder.ToTable("billing_accounts", t => t.HasCheckConstraint("ck_billing_accounts_day", "billing_day BETWEEN 1 AND 28"));
        builder.HasKey(a => a.CustomerId);
        builder.Property(a => a.LegalName).HasMaxLength(200);
        builder.Property(a => a.Address).HasMaxLength(500);
        builder.Property(a => a.Country).HasMaxLength(2).IsFixedLength();
        builder.Property(a => a.VatNumber).HasMaxLength(20);
        builder.HasOne<PanelUser>().WithOne().HasForeignKey<BillingAccount>(a => a.CustomerId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class InvoiceConfiguration : IEntityTypeConfiguration<Invoice>
{
    public void Configure(EntityTypeBuilder<Invoice> builder)
    {
        builder.ToTable("invoices", t => t.HasCheckConstraint("ck_invoices_total", "total >= 0"));
        builder.Property(i => i.Number).HasMaxLength(32);
        builder.HasIndex(i => i.Number).IsUnique();
        // One invoice per customer and period: the invoice job is idempotent.
        builder.HasIndex(i => new { i.CustomerId, i.PeriodStart }).IsUnique();
        builder.HasIndex(i => new { i.Status, i.DueAt });
        builder.Property(i => i.Currency).HasMaxLength(3).IsFixedLength();
        builder.Property(i => i.Total).HasPrecision(18, 2);
        builder.Property(i => i.Net).HasPrecision(18, 2);
        builder.Property(i => i.TaxRatePercent).HasPrecision(5, 2);
        builder.Property(i => i.TaxAmount).HasPrecision(18, 2);
        builder.Property(i => i.TaxLabel).HasMaxLength(20).HasDefaultValue("VAT");
        builder.Property(i => i.TaxNote).HasMaxLength(100);
        builder.Property(i => i.BillTo).HasMaxLength(1000).HasDefaultValue("");
        builder.Property(i => i.CustomerCountry).HasMaxLength(2).IsFixedLength();
        builder.Property(i => i.CustomerVatNumber).HasMaxLength(20);
        builder.Property(i => i.Status).HasConversion<string>().HasMaxLength(20);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(i => i.CustomerId).OnDelete(DeleteBehavior.Restrict);
        builder.HasMany(i => i.Lines).WithOne().HasForeignKey(l => l.InvoiceId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class InvoiceLineConfiguration : IEntityTypeConfiguration<InvoiceLine>
{
    public void Configure(EntityTypeBuilder<InvoiceLine> builder)
    {
        builder.ToTable("invoice_lines");
        builder.HasIndex(l => new { l.InvoiceId, l.Position }).IsUnique();
        builder.Property(l => l.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(l => l.Description).HasMaxLength(1000);
        builder.Property(l => l.Quantity).HasPrecision(18, 4);
        builder.Property(l => l.UnitPrice).HasPrecision(18, 4);
        builder.Property(l => l.Amount).HasPrecision(18, 2);
        builder.HasOne<Vps>().WithMany().HasForeignKey(l => l.VpsId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class InvoiceCounterConfiguration : IEntityTypeConfiguration<InvoiceCounter>
{
    public void Configure(EntityTypeBuilder<InvoiceCounter> builder)
    {
        builder.ToTable("invoice_counters");
        builder.HasKey(c => c.Year);
        builder.Property(c => c.Year).ValueGeneratedNever();
    }
}

internal sealed class LedgerEntryConfiguration : IEntityTypeConfiguration<LedgerEntry>
{
    public void Configure(EntityTypeBuilder<LedgerEntry> builder)
    {
        builder.ToTable("ledger_entries", t => t.HasCheckConstraint("ck_ledger_entries_balance", "balance_after >= 0"));
        builder.HasIndex(e => new { e.CustomerId, e.Id });
        builder.HasIndex(e => e.InvoiceId);
        builder.Property(e => e.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(e => e.Amount).HasPrecision(18, 2);
        builder.Property(e => e.BalanceAfter).HasPrecision(18, 2);
        builder.Property(e => e.Reference).HasMaxLength(500);
        builder.Property(e => e.ActorName).HasMaxLength(256);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(e => e.CustomerId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<Invoice>().WithMany().HasForeignKey(e => e.InvoiceId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class TaxRateConfiguration : IEntityTypeConfiguration<TaxRate>
{
    public void Configure(EntityTypeBuilder<TaxRate> builder)
    {
        builder.ToTable("tax_rates", t => t.HasCheckConstraint("ck_tax_rates_rate", "rate_percent >= 0 AND rate_percent <= 100"));
        builder.HasKey(r => r.CountryCode);
        builder.Property(r => r.CountryCode).HasMaxLength(2).IsFixedLength();
        builder.Property(r => r.RatePercent).HasPrecision(5, 2);
        builder.Property(r => r.Name).HasMaxLength(20);
        builder.Property(r => r.UpdatedBy).HasMaxLength(256);
    }
}

internal sealed class CouponConfiguration : IEntityTypeConfiguration<Coupon>
{
    public void Configure(EntityTypeBuilder<Coupon> builder)
    {
        builder.ToTable("coupons", t => t.HasCheckConstraint("ck_coupons_value", "value > 0 AND (kind <> 'Percent' OR value <= 100)"));
        builder.Property(c => c.Code).HasMaxLength(32);
        builder.HasIndex(c => c.Code).IsUnique();
        builder.Property(c => c.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(c => c.Value).HasPrecision(18, 2);
    }
}

internal sealed class CouponRedemptionConfiguration : IEntityTypeConfiguration<CouponRedemption>
{
    public void Configure(EntityTypeBuilder<CouponRedemption> builder)
    {
        builder.ToTable("coupon_redemptions");
        // A customer redeems a coupon once.
        builder.HasIndex(r => new { r.CouponId, r.CustomerId }).IsUnique();
        builder.HasIndex(r => new { r.CustomerId, r.InvoiceId });
        builder.HasOne<Coupon>().WithMany().HasForeignKey(r => r.CouponId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(r => r.CustomerId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<Invoice>().WithMany().HasForeignKey(r => r.InvoiceId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class CreditNoteConfiguration : IEntityTypeConfiguration<CreditNote>
{
    public void Configure(EntityTypeBuilder<CreditNote> builder)
    {
        builder.ToTable("credit_notes", t => t.HasCheckConstraint("ck_credit_notes_amount", "amount > 0"));
        builder.Property(c => c.Number).HasMaxLength(32);
        builder.HasIndex(c => c.Number).IsUnique();
        builder.HasIndex(c => c.InvoiceId);
        builder.HasIndex(c => c.CustomerId);
        builder.Property(c => c.Amount).HasPrecision(18, 2);
        builder.Property(c => c.Reason).HasMaxLength(500);
        builder.Property(c => c.ActorName).HasMaxLength(256);
        builder.HasOne<Invoice>().WithMany().HasForeignKey(c => c.InvoiceId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(c => c.CustomerId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class CreditNoteCounterConfiguration : IEntityTypeConfiguration<CreditNoteCounter>
{
    public void Configure(EntityTypeBuilder<CreditNoteCounter> builder)
    {
        builder.ToTable("credit_note_counters");
        builder.HasKey(c => c.Year);
        builder.Property(c => c.Year).ValueGeneratedNever();
    }
}

internal sealed class PaymentAttemptConfiguration : IEntityTypeConfiguration<PaymentAttempt>
{
    public void Configure(EntityTypeBuilder<PaymentAttempt> builder)
    {
        builder.ToTable("payment_attempts", t => t.HasCheckConstraint("ck_payment_attempts_amount", "amount > 0"));
        builder.Property(p => p.Gateway).HasMaxLength(64);
        builder.Property(p => p.IdempotencyKey).HasMaxLength(256);
        builder.HasIndex(p => p.IdempotencyKey).IsUnique();
        builder.Property(p => p.Amount).HasPrecision(18, 2);
        builder.Property(p => p.Currency).HasMaxLength(3);
        builder.Property(p => p.Status).HasConversion<string>().HasMaxLength(16);
        builder.Property(p => p.Reference).HasMaxLength(256);
        builder.Property(p => p.Message).HasMaxLength(500);
        builder.Property(p => p.ActorName).HasMaxLength(256);
        // One charge in flight per invoice: a second "pay" joins the pending one.
        builder.HasIndex(p => p.InvoiceId).IsUnique().HasFilter("status = 'Pending'").HasDatabaseName("ix_payment_attempts_pending_invoice");
        builder.HasIndex(p => new { p.Status, p.CreatedAt });
        builder.HasIndex(p => p.CustomerId);
        builder.HasOne<Invoice>().WithMany().HasForeignKey(p => p.InvoiceId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(p => p.CustomerId).OnDelete(DeleteBehavior.Restrict);
    }
}
