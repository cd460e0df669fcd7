using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Mail;

namespace Panel.Core.Persistence.Configurations;

internal sealed class OutboxMailConfiguration : IEntityTypeConfiguration<OutboxMail>
{
    public void Configure(EntityTypeBuilder<OutboxMail> builder)
    {
        builder.ToTable("mail_outbox");
        builder.Property(m => m.To).HasMaxLength(320);
        builder.Property(m => m.Subject).HasMaxLength(300);
        builder.Property(m => m.LastError).HasMaxLength(2000);
        // What the sender reads: pending mail by when it is due.
        builder.HasIndex(m => m.NextAttemptAt).HasFilter("sent_at IS NULL");
    }
}

internal sealed class DunningEventConfiguration : IEntityTypeConfiguration<DunningEvent>
{
    public void Configure(EntityTypeBuilder<DunningEvent> builder)
    {
        builder.ToTable("dunning_events");
        builder.Property(e => e.Step).HasMaxLength(40);
        builder.Property(e => e.Details).HasMaxLength(2000);
        // Each step once per invoice: a run claims a step by inserting it.
        builder.HasIndex(e => new { e.InvoiceId, e.Step }).IsUnique();
        builder.HasIndex(e => e.CustomerId);
        builder.HasOne<Invoice>().WithMany().HasForeignKey(e => e.InvoiceId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(e => e.CustomerId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class DunningSuspensionConfiguration : IEntityTypeConfiguration<DunningSuspension>
{
    public void Configure(EntityTypeBuilder<DunningSuspension> builder)
    {
        builder.ToTable("dunning_suspensions");
        builder.HasKey(s => s.VpsId);
        builder.Property(s => s.VpsId).ValueGeneratedNever();
        builder.HasIndex(s => s.CustomerId);
        builder.HasOne<Vps>().WithMany().HasForeignKey(s => s.VpsId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Invoice>().WithMany().HasForeignKey(s => s.InvoiceId).OnDelete(DeleteBehavior.Restrict);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(s => s.CustomerId).OnDelete(DeleteBehavior.Restrict);
    }
}
