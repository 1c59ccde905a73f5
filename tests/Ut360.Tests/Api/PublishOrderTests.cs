using System.Text.Json;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Api;

/// Near cache on, meta poll effectively off: only the sync's announcement clears it, so the
/// test sees when the announcement comes relative to the deletions.
public class PublishOrderFactory : ApiFactory
{
    protected override bool NearCache => true;
    protected override IEnumerable<(string Key, string Value)> ExtraSettings => [("NearCache:PollMs", "60000")];

    protected override async Task SeedAsync()
    {
        await ApiTestData.InsertAsync(Db.DataSource, [.. Enumerable.Range(1, 50)]);
        await SyncAsync();
    }

    public Task<SyncResult> SyncAsync() =>
        new SyncEngine(Db.DataSource, Redis.Connection, Redis.Keys).RunAsync(new SyncRequest { Trigger = "test" }, null, CancellationToken.None);
}

/// Issue 16, item 4: near caches follow the publish, and departed records go after it.
/// The same on the Redis Cluster (the publish renames key by key there, the meta last).
public sealed class PublishOrderClusterFactory : PublishOrderFactory
{
    protected override string? RedisConnectionString => ClusterFactAttribute.ConnectionString;
}

public sealed class PublishOrderTests(PublishOrderFactory api) : IClassFixture<PublishOrderFactory>
{
    [Fact]
    public Task A_page_kept_near_stops_listing_a_departed_subscriber_before_its_record_is_deleted() => PublishOrderCases.DepartedAsync(api);
}

public sealed class PublishOrderClusterTests(PublishOrderClusterFactory api) : IClassFixture<PublishOrderClusterFactory>
{
    [ClusterFact]
    public Task On_the_cluster_a_page_kept_near_stops_listing_a_departed_subscriber_before_its_record_is_deleted() => PublishOrderCases.DepartedAsync(api);
}

static class PublishOrderCases
{
    public static async Task DepartedAsync(PublishOrderFactory api)
    {
        var gone = ApiTestData.Isdn(7);
        var service = ApiTestData.Rec(7).ServiceType;
        var page = $"/api/v1/services/{service}/recommendations?limit=50";
        await Poll.UntilAsync(async () =>
        {
            using var client = api.Client();
            var response = await client.GetAsync(page);
            return response.Headers.GetValues("Server-Timing").Single().StartsWith("near", StringComparison.Ordinal);
        }, "the page is kept near");
        Assert.True(Lists(await api.GetJsonAsync(page), gone));

        await using (var cmd = api.Db.DataSource.CreateCommand("""
            DELETE FROM subscriber_monthly_arpu WHERE isdn = @isdn;
            DELETE FROM subscriber_360_profiles WHERE isdn = @isdn;
            DELETE FROM recommendations WHERE isdn = @isdn;
            """))
        {
            cmd.Parameters.AddWithValue("isdn", gone);
            await cmd.ExecuteNonQueryAsync();
        }
        var sync = api.SyncAsync();
        var rec = api.Redis.Keys.Rec(gone);
        bool droppedWhileRecordExisted = false;
        while (!sync.IsCompleted)
        {
            var listed = Lists(await api.GetJsonAsync(page), gone);
            var recordExists = await api.Redis.Db.KeyExistsAsync(rec);
            Assert.False(listed && !recordExists, "a page served after the record was deleted still lists the subscriber");
            droppedWhileRecordExisted |= !listed && recordExists;
        }
        Assert.Equal(SyncOutcome.Succeeded, (await sync).Outcome);
        Assert.True(droppedWhileRecordExisted, "the page never dropped the subscriber while its record was still there");
        Assert.False(Lists(await api.GetJsonAsync(page), gone));
        Assert.False(await api.Redis.Db.KeyExistsAsync(rec));
    }

    internal static bool Lists(JsonElement page, string isdn) =>
        page.GetProperty("items").EnumerateArray().Any(i => i.GetProperty("isdn").GetString() == isdn);
}

/// A test that needs the Redis Cluster the environment names (UT360_TEST_REDIS_CLUSTER, which
/// ./ut360 test and CI set); skipped only when it is absent.
public sealed class ClusterFactAttribute : FactAttribute
{
    public static string? ConnectionString =>
        Environment.GetEnvironmentVariable(Sync.ClusterDataAttribute.Variable) is { Length: > 0 } c ? c + ",allowAdmin=true" : null;

    public ClusterFactAttribute()
    {
        if (ConnectionString is null)
            Skip = $"{Sync.ClusterDataAttribute.Variable} is not set (./ut360 test sets it)";
    }
}
