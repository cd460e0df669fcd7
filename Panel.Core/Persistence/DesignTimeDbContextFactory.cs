using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Panel.Core.Persistence;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a running panel or database.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<PanelDbContext>
{
    public PanelDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<PanelDbContext>();
        PanelDatabase.Configure(options, "Host=127.0.0.1;Port=5433;Database=panel;Username=panel");
        return new PanelDbContext(options.Options);
    }
}
