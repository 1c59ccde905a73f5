using System.Text.Json;
using System.Text.RegularExpressions;
using Ut360.Data.Sync;

namespace Ut360.Tests.Api;

public sealed class StatsSourceFactory : ApiFactory
{
    protected override async Task SeedAsync()
    {
        await ApiTestData.InsertAsync(Db.DataSource, [.. Enumerable.Range(1, 60)]);
        await using var cmd = Db.DataSource.CreateCommand("""
            INSERT INTO data_loads (data_version, mode, source_dir, source_format, outcome, finished_at)
            VALUES ('stats-v1', 'snapshot', 'test', 'csv', 'succeeded', now())
            """);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// Issue 16, item 5: /api/v1/stats has one definition per field whichever source answers.
public sealed class StatsSourceTests(StatsSourceFactory api) : IClassFixture<StatsSourceFactory>
{
    [Fact]
    public async Task Stats_from_postgresql_and_from_the_synced_meta_agree_field_by_field()
    {
        var fromPg = await api.GetJsonAsync("/api/v1/stats");
        Assert.Equal("postgres", fromPg.GetProperty("source").GetString());

        var sync = await new SyncEngine(api.Db.DataSource, api.Redis.Connection, api.Redis.Keys)
            .RunAsync(new SyncRequest { Trigger = "test" }, null, CancellationToken.None);
        Assert.Equal(SyncOutcome.Succeeded, sync.Outcome);
        var fromRedis = await api.GetJsonAsync("/api/v1/stats");
        Assert.Equal("redis", fromRedis.GetProperty("source").GetString());

        var pg = fromPg.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        var redis = fromRedis.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(redis.Keys.Order(), pg.Keys.Order());
        foreach (var (name, value) in redis)
        {
            if (name is "source" or "last_updated")
                continue;
            Assert.True(value.GetRawText() == pg[name].GetRawText(), $"{name}: redis {value.GetRawText()}, postgres {pg[name].GetRawText()}");
        }
        Assert.True(pg["total_revenue_potential"].GetDecimal() > 0);
        foreach (var stats in new[] { fromPg, fromRedis })
            Assert.Matches(new Regex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"), stats.GetProperty("last_updated").GetString());
    }
}
