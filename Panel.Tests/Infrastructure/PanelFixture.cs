using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Panel.Core.Services;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// The shared world of the "panel" collection: one test database, Panel.Core's services on it, and
/// one running panel process. Tests in the collection run one after another and call
/// <see cref="ResetAsync"/> first, so each starts from an empty database with only the admin.
/// </summary>
public sealed class PanelFixture : IAsyncLifetime
{
    /// <summary>The run's database.</summary>
    public TestDatabase Database { get; } = new();

    /// <summary>Panel.Core's services on the database.</summary>
    public ServiceProvider Services { get; private set; } = default!;

    /// <summary>The panel, serving over HTTP.</summary>
    public PanelProcess App { get; private set; } = default!;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await Database.InitializeAsync();
        try
        {
            Services = CoreServices.Build(Database.ConnectionString);
            await SeedAdminAsync();
            App = await PanelProcess.StartAsync(Database.ConnectionString);
        }
        catch
        {
            // xunit does not dispose a fixture whose initialization failed: clean up here.
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the panel's own node has registered with its address pool (orders need both).</summary>
    public async Task WaitForNodeAsync()
    {
        for (var i = 0; i < 100; i++)
        {
            await using var db = Database.CreateContext();
            if (await db.Nodes.AnyAsync() && await db.IpPools.AnyAsync())
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the panel's node did not register");
    }

    /// <summary>Empties the database and seeds the admin again.</summary>
    public async Task ResetAsync()
    {
        await Database.ResetAsync();
        await SeedAdminAsync();
    }

    /// <summary>Resolves a scoped service in a new scope (dispose the scope).</summary>
    public (AsyncServiceScope Scope, T Service) Resolve<T>()
        where T : notnull
    {
        var scope = Services.CreateAsyncScope();
        return (scope, scope.ServiceProvider.GetRequiredService<T>());
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        if (Services is not null)
        {
            await Services.DisposeAsync();
        }

        await Database.DisposeAsync();
    }

    private async Task SeedAdminAsync()
    {
        var (scope, seeder) = Resolve<AdminSeeder>();
        await using (scope)
        {
            await seeder.SeedAsync(PanelProcess.AdminEmail, PanelProcess.AdminPassword);
        }
    }
}

/// <summary>Tests that share <see cref="PanelFixture"/>; they run sequentially.</summary>
[CollectionDefinition(Name)]
public sealed class PanelCollection : ICollectionFixture<PanelFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "panel";
}

/// <summary>Base class for tests in the panel collection: resets the database before each test.</summary>
[Collection(PanelCollection.Name)]
public abstract class PanelTest(PanelFixture fixture) : IAsyncLifetime
{
    /// <summary>The shared fixture.</summary>
    protected PanelFixture Fixture { get; } = fixture;

    /// <inheritdoc />
    public virtual async ValueTask InitializeAsync() => await Fixture.ResetAsync();

    /// <inheritdoc />
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>A unique email for this test.</summary>
    protected static string NewEmail(string prefix = "customer") => $"{prefix}-{Guid.NewGuid():N}@example.com";
}
