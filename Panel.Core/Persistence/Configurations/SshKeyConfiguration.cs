using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Panel.Core.Domain.Access;
using Panel.Core.Domain.Accounts;

namespace Panel.Core.Persistence.Configurations;

internal sealed class SshKeyConfiguration : IEntityTypeConfiguration<SshKey>
{
    public void Configure(EntityTypeBuilder<SshKey> builder)
    {
        builder.ToTable("ssh_keys");
        builder.Property(k => k.Name).HasMaxLength(64);
        builder.Property(k => k.PublicKey).HasMaxLength(SshKey.MaxKeyLength);
        builder.Property(k => k.Fingerprint).HasMaxLength(100);
        builder.HasIndex(k => new { k.OwnerId, k.Name }).IsUnique();
        builder.HasIndex(k => new { k.OwnerId, k.Fingerprint }).IsUnique();
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(k => k.OwnerId).OnDelete(DeleteBehavior.Cascade);
    }
}
