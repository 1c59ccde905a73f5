using Npgsql;
using Ut360.Data.Schema;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests;

public sealed class SchemaTests
{
    [Fact]
    public async Task Migrating_twice_applies_nothing_the_second_time()
    {
        await using var db = await TestDatabase.CreateAsync();
        var again = await Migrator.MigrateAsync(db.DataSource);
        Assert.Empty(again);
    }

    [Fact]
    public async Task The_design_documents_tables_exist()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var cmd = db.DataSource.CreateCommand(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
        var tables = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            tables.Add(reader.GetString(0));
        Assert.Superset(new HashSet<string> { "recommendations", "subscriber_360_profiles", "subscriber_monthly_arpu", "recommendation_stats" },
            tables.ToHashSet());
    }
}
