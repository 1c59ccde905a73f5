using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Ut360.Api.Infrastructure;
using Ut360.Api.Recommendations;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using ZiggyCreatures.Caching.Fusion;

namespace Ut360.Tests.Api;

/// Subscribers 1–50 in PostgreSQL, synced by the real sync; the near cache on, with a short
/// meta poll so the fallback invalidation is quick to observe.
public sealed class NearCacheFactory : ApiFactory
{
    protected override bool NearCache => true;
    protected override IEnumerable<(string Key, string Value)> ExtraSettings => [("NearCache:PollMs", "100")];

    protected override async Task SeedAsync()
    {
        await ApiTestData.InsertAsync(Db.DataSource, [.. Enumerable.Range(1, 50)]);
        await SyncAsync();
    }

    public Task<SyncResult> SyncAsync() =>
        new SyncEngine(Db.DataSource, Redis.Connection, Redis.Keys).RunAsync(new SyncRequest { Trigger = "test" }, null, CancellationToken.None);
}

public sealed class NearCacheTests(NearCacheFactory api) : IClassFixture<NearCacheFactory>
{
    static string RecPath(int i) => $"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(i))}";

    async Task<(string Timing, JsonElement Json)> GetAsync(string path)
    {
        using var client = api.Client();
        var response = await client.GetAsync(path);
        response.EnsureSuccessStatusCode();
        Assert.Equal("hit", response.Headers.GetValues("X-Cache").Single());
        return (response.Headers.GetValues("Server-Timing").Single(), await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    /// Reads until the answer comes from the near cache: another test's sync may clear it
    /// between two reads (its announcement and the meta check each clear once).
    async Task<JsonElement> NearAsync(string path)
    {
        JsonElement json = default;
        await Poll.UntilAsync(async () =>
        {
            (var timing, json) = await GetAsync(path);
            return timing.StartsWith("near", StringComparison.Ordinal);
        }, $"{path} served from the near cache");
        return json;
    }

    [Fact]
    public async Task The_second_read_is_served_in_process_for_whole_records_and_field_projections()
    {
        var (first, _) = await GetAsync(RecPath(3));
        Assert.StartsWith("redis;dur=", first);
        var before = api.Services.GetRequiredService<ApiMetrics>().NearHits;
        var json = await NearAsync(RecPath(3));
        Assert.Equal(ApiTestData.Rec(3).AdvanceAmount, json.GetProperty("advance_amount").GetDecimal());
        // A projection is cut from the whole record kept near.
        JsonElement fields = default;
        await Poll.UntilAsync(async () =>
        {
            await NearAsync(RecPath(3));
            (var projected, fields) = await GetAsync(RecPath(3) + "?fields=priority");
            return projected.StartsWith("near", StringComparison.Ordinal);
        }, "?fields= served from the near cache");
        Assert.Equal(["priority"], fields.EnumerateObject().Select(p => p.Name));
        Assert.True(api.Services.GetRequiredService<ApiMetrics>().NearHits >= before + 2);
    }

    [Fact]
    public async Task A_sync_that_changes_a_record_is_seen_without_waiting_for_the_entry_to_age()
    {
        await NearAsync(RecPath(5));
        await using (var cmd = api.Db.DataSource.CreateCommand("UPDATE recommendations SET advance_amount = 77000 WHERE isdn = @isdn"))
        {
            cmd.Parameters.AddWithValue("isdn", ApiTestData.Isdn(5));
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }
        Assert.Equal(SyncOutcome.Succeeded, (await api.SyncAsync()).Outcome);
        await Poll.UntilAsync(async () => (await GetAsync(RecPath(5))).Json.GetProperty("advance_amount").GetDecimal() == 77000m,
            "the API answers the synced advance_amount");
    }

    [Fact]
    public async Task A_list_page_is_kept_near_until_a_sync_reorders_the_list()
    {
        var service = (await GetAsync(RecPath(7))).Json.GetProperty("service_type").GetString();
        var page = $"/api/v1/services/{service}/recommendations?limit=50";
        var items = (await NearAsync(page)).GetProperty("items").EnumerateArray().ToList();
        Assert.True(items.Count > 1, $"{service} has more than one member among the test subscribers");
        var last = items[^1].GetProperty("isdn").GetString()!;
        Assert.NotEqual(last, items[0].GetProperty("isdn").GetString());

        // The last of the page gets the highest score there is and moves to the top.
        await using (var cmd = api.Db.DataSource.CreateCommand(
            "UPDATE recommendations SET customer_value_score = 100, advance_readiness_score = 100 WHERE isdn = @isdn"))
        {
            cmd.Parameters.AddWithValue("isdn", last);
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }
        Assert.Equal(SyncOutcome.Succeeded, (await api.SyncAsync()).Outcome);
        await Poll.UntilAsync(async () => (await GetAsync(page)).Json.GetProperty("items")[0].GetProperty("isdn").GetString() == last,
            "the page shows the synced order");
    }

    [Fact]
    public async Task A_finished_sync_seen_only_in_the_meta_stats_also_clears_the_cache()
    {
        // No announcement on the events channel: only the meta poll can notice.
        await NearAsync(RecPath(9));
        await api.Redis.Db.HashSetAsync(api.Redis.Keys.MetaStats, "sync_id", "999999");
        await Poll.UntilAsync(async () => (await GetAsync(RecPath(9))).Timing.StartsWith("redis", StringComparison.Ordinal),
            "the record is read from Redis again");
    }

    [Fact]
    public async Task A_list_page_does_not_leak_its_scores_into_the_shared_records()
    {
        var page = await api.GetJsonAsync($"/api/v1/services/{ApiTestData.Rec(1).ServiceType}/recommendations?limit=5");
        var first = page.GetProperty("items")[0];
        Assert.True(first.TryGetProperty("score", out _));
        var id = Enumerable.Range(1, 50).First(i => ApiTestData.Isdn(i) == first.GetProperty("isdn").GetString());
        Assert.False((await NearAsync(RecPath(id))).TryGetProperty("score", out _));
    }

    [Fact]
    public async Task Concurrent_misses_on_one_key_make_one_postgres_query()
    {
        // In PostgreSQL only: every request misses Redis and the near cache.
        const int id = 61;
        await ApiTestData.InsertAsync(api.Db.DataSource, [id]);
        var metrics = api.Services.GetRequiredService<ApiMetrics>();
        var (reads, coalesced, nearMisses) = (metrics.PostgresReads, metrics.Coalesced, metrics.NearMisses);
        // Hold the table so the first read waits until the other 19 requests have asked too.
        await using var conn = await api.Db.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var lockCmd = new Npgsql.NpgsqlCommand("LOCK TABLE recommendations IN ACCESS EXCLUSIVE MODE", conn, tx))
            await lockCmd.ExecuteNonQueryAsync();
        using var client = api.Client();
        var requests = Enumerable.Range(0, 20).Select(_ => client.GetAsync(RecPath(id))).ToArray();
        await Poll.UntilAsync(() => Task.FromResult(metrics.NearMisses - nearMisses >= 20), "20 requests missed the near cache");
        await tx.CommitAsync();
        var responses = await Task.WhenAll(requests);
        Assert.All(responses, r => Assert.Equal(System.Net.HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, metrics.PostgresReads - reads);
        // Coalesced: the requests that did not read themselves but were answered by the one read.
        Assert.Equal(19, metrics.Coalesced - coalesced);
    }

    [Fact]
    public async Task The_cache_is_bounded_and_never_serves_an_entry_read_before_an_invalidation()
    {
        using var near = new NearCache<RecommendationView>("test", 3, TimeSpan.FromMinutes(1));
        var cache = near.Cache!;
        for (var i = 1; i <= 10; i++)
            cache.Set(near.Key(ApiTestData.Isdn(i)), View(i));
        Assert.InRange(near.Count, 1, 3);

        // Read from Redis before a sync finished, stored after its invalidation: not served.
        var generation = near.Generation;
        near.Invalidate();
        cache.Set(NearCache<RecommendationView>.Key(generation, ApiTestData.Isdn(20)), View(20));
        Assert.False(cache.TryGet<RecommendationView>(near.Key(ApiTestData.Isdn(20))).HasValue);

        // The same through a read FusionCache runs (GetOrSet): started before, finished after.
        var release = new TaskCompletionSource();
        var reading = cache.GetOrSetAsync<RecommendationView>(near.Key(ApiTestData.Isdn(22)), async (_, _) =>
        {
            await release.Task;
            return View(22);
        }).AsTask();
        near.Invalidate();
        release.SetResult();
        Assert.Equal(ApiTestData.Isdn(22), (await reading).Isdn);
        Assert.False(cache.TryGet<RecommendationView>(near.Key(ApiTestData.Isdn(22))).HasValue);

        cache.Set(near.Key(ApiTestData.Isdn(21)), View(21));
        var kept = cache.TryGet<RecommendationView>(near.Key(ApiTestData.Isdn(21)));
        Assert.True(kept.HasValue);
        Assert.Equal(ApiTestData.Isdn(21), kept.Value.Isdn);
    }

    [Fact]
    public void A_capacity_of_zero_turns_the_cache_off()
    {
        using var near = new NearCache<RecommendationView>("test", 0, TimeSpan.FromMinutes(1));
        Assert.False(near.Enabled);
        Assert.Null(near.Cache);
    }

    static RecommendationView View(int i) => RecommendationView.From(ApiTestData.Rec(i));
}
