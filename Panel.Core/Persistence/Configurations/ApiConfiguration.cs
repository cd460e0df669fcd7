using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Api;

namespace Panel.Core.Persistence.Configurations;

internal sealed class ApiTokenConfiguration : IEntityTypeConfiguration<ApiToken>
{
    public void Configure(EntityTypeBuilder<ApiToken> builder)
    {
        builder.ToTable("api_tokens");
        builder.Property(t => t.Name).HasMaxLength(100);
        builder.Property(t => t.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(t => t.Prefix).HasMaxLength(16);
        builder.Property(t => t.SecretHash).HasMaxLength(32);
        // Authentication looks a token up by the hash of the secret it is shown.
        builder.HasIndex(t => t.SecretHash).IsUnique();
        builder.HasIndex(t => t.OwnerId);
        builder.HasOne<PanelUser>().WithMany().HasForeignKey(t => t.OwnerId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ApiIdempotencyConfiguration : IEntityTypeConfiguration<ApiIdempotencyRecord>
{
    public void Configure(EntityTypeBuilder<ApiIdempotencyRecord> builder)
    {
        builder.ToTable("api_idempotency");
        // The unique row that makes concurrent calls with one key do the work once.
        builder.HasKey(r => new { r.TokenId, r.Key });
        builder.Property(r => r.Key).HasMaxLength(200);
        builder.Property(r => r.RequestHash).HasMaxLength(64);
        builder.Property(r => r.Request).HasMaxLength(300);
        builder.Property(r => r.ContentType).HasMaxLength(100);
        builder.Property(r => r.Location).HasMaxLength(300);
        builder.HasOne<ApiToken>().WithMany().HasForeignKey(r => r.TokenId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(r => r.CreatedAt); // the daily purge
    }
}
