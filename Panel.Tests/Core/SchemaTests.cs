using Microsoft.EntityFrameworkCore;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Core;

/// <summary>The schema the migrations make is the one the code expects.</summary>
public sealed class SchemaTests(PanelFixture fixture) : PanelTest(fixture)
{
    [Fact]
    public async Task The_migrations_describe_the_model_and_are_all_applied()
    {
        await using var db = Fixture.Database.CreateContext();
        db.Database.HasPendingModelChanges().ShouldBeFalse("a change to the model needs its migration (dotnet ef migrations add NAME --project Panel.Core --startup-project Panel.Core)");
        (await db.Database.GetPendingMigrationsAsync(TestContext.Current.CancellationToken)).ShouldBeEmpty();
    }
}
