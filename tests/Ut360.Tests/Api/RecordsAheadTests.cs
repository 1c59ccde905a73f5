using System.Text.Json;
using Ut360.Data.Sync;
using Ut360.Tests.Sync;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Api;

/// 3,000 subscribers synced; the watchdog is off (ApiFactory), so the window between a killed
/// sync and the next stays open for the test.
public class RecordsAheadFactory() : SyncedApiFactory(3000);

public sealed class RecordsAheadClusterFactory : RecordsAheadFactory
{
    protected override string? RedisConnectionString => ClusterFactAttribute.ConnectionString;
}

/// Issue 16, item 2: a sync killed before its publish leaves records of the new version under
/// the indexes of the old one. List pages do not show a record that contradicts the list it is
/// listed in (UC2 by service, UC3/UC4 with details).
public sealed class RecordsAheadTests(RecordsAheadFactory api) : IClassFixture<RecordsAheadFactory>
{
    [Fact]
    public Task List_pages_drop_records_written_ahead_of_their_index_by_a_killed_sync() => RecordsAheadCases.PagesAsync(api);
}

public sealed class RecordsAheadClusterTests(RecordsAheadClusterFactory api) : IClassFixture<RecordsAheadClusterFactory>
{
    [ClusterFact]
    public Task On_the_cluster_list_pages_drop_records_written_ahead_of_their_index_by_a_killed_sync() => RecordsAheadCases.PagesAsync(api);
}

static class RecordsAheadCases
{
    public static async Task PagesAsync(RecordsAheadFactory api)
    {
        var (db, redis) = (api.Db, api.Redis);
        var easyCredit = await redis.Db.SortedSetLengthAsync(redis.Keys.ServiceIndex("EasyCredit"));
        var low = await redis.Db.SetLengthAsync(redis.Keys.RiskIndex("LOW"));
        var moved = await ScalarAsync<long>(db, "SELECT count(*) FROM recommendations WHERE service_type = 'EasyCredit' AND id <= 600");
        await ExecAsync(db, """
            UPDATE recommendations SET service_type = 'MBFG', updated_at = now() WHERE service_type = 'EasyCredit' AND id <= 600;
            UPDATE recommendations SET bad_debt_risk = 'HIGH', updated_at = now() WHERE bad_debt_risk = 'LOW' AND id <= 600;
            """);
        await SyncChild.KillSyncBeforePublishAsync(db, redis);
        // The old indexes are live, the records of the moved subscribers already new.
        Assert.Equal(easyCredit, await redis.Db.SortedSetLengthAsync(redis.Keys.ServiceIndex("EasyCredit")));

        var listed = 0;
        for (var offset = 0; offset < easyCredit; offset += 1000)
        {
            var page = await api.GetJsonAsync($"/api/v1/services/EasyCredit/recommendations?offset={offset}&limit=1000");
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                Assert.Equal("EasyCredit", item.GetProperty("service_type").GetString());
                listed++;
            }
        }
        Assert.Equal(easyCredit - moved, listed);

        var details = 0;
        string? cursor = null;
        do
        {
            var page = await api.GetJsonAsync("/api/v1/risk/LOW/subscribers?details=true&limit=1000" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                Assert.Equal("LOW", item.GetProperty("bad_debt_risk").GetString());
                details++;
            }
            cursor = page.GetProperty("next_cursor").ValueKind == JsonValueKind.String ? page.GetProperty("next_cursor").GetString() : null;
        } while (cursor is not null);
        Assert.True(details < low, $"{details} of {low} LOW members listed: none was written ahead of its index");

        // The next sync publishes the new version (the test's; the watchdog is off here).
        Assert.Equal(SyncOutcome.Succeeded, (await FullAsync(db, redis)).Outcome);
    }
}
