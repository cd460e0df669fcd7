using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Panel.Core.Domain.Nodes;

namespace Panel.Core.Persistence.Configurations;

internal sealed class NodeConfiguration : IEntityTypeConfiguration<Node>
{
    public void Configure(EntityTypeBuilder<Node> builder)
    {
        builder.ToTable("nodes");
        builder.HasKey(n => n.Id);
        builder.Property(n => n.Name).HasMaxLength(40);
        builder.HasIndex(n => n.Name).IsUnique();
        builder.Property(n => n.Hostname).HasMaxLength(253);
        builder.Property(n => n.Kernel).HasMaxLength(100);
        builder.Property(n => n.CpuOvercommit).HasPrecision(9, 4);
        builder.Property(n => n.MemoryOvercommit).HasPrecision(9, 4);
        builder.Property(n => n.DiskOvercommit).HasPrecision(9, 4);
        builder.Property(n => n.GuestNetwork).HasMaxLength(50);
        builder.Property(n => n.GuestNetwork6).HasMaxLength(50);
        builder.OwnsMany(n => n.Drivers, d => d.ToJson("drivers"));
    }
}
