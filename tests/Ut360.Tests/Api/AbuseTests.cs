using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;

namespace Ut360.Tests.Api;

/// A low limit for requests without a valid key (1 a second, burst 3).
public sealed class AnonymousLimitFactory : ApiFactory
{
    protected override IEnumerable<(string Key, string Value)> ExtraSettings =>
        [("Api:AnonymousRateLimitPerSecond", "1"), ("Api:AnonymousRateLimitBurst", "3")];

    protected override Task SeedAsync() => ApiTestData.InsertAsync(Db.DataSource, [1, 2]);
}

public sealed class AbuseTests(AnonymousLimitFactory api) : IClassFixture<AnonymousLimitFactory>
{
    [Fact]
    public async Task Requests_without_a_valid_key_are_limited_per_address_and_keyed_ones_are_not()
    {
        using var anonymous = api.Client(key: null);
        using var wrongKey = api.Client("not-a-key-of-this-service");
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await anonymous.GetAsync("/openapi/v1.json")).StatusCode);
            statuses.Add((await wrongKey.GetAsync($"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(1))}")).StatusCode);
        }
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        var limited = await anonymous.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);

        using var keyed = api.Client();
        for (var i = 0; i < 5; i++)
            Assert.Equal(HttpStatusCode.OK, (await keyed.GetAsync($"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(1))}")).StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_is_built_once_and_then_served_as_stored()
    {
        using var client = api.Client();
        var first = await client.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var second = await client.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        // The output cache stamps what it serves with its age; a rebuilt document has none.
        Assert.NotNull(second.Headers.Age);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Subscriber_data_is_not_stored_by_browsers_and_the_ui_runs_under_a_content_policy()
    {
        using var client = api.Client();
        var rec = await client.GetAsync($"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(1))}");
        Assert.Equal(HttpStatusCode.OK, rec.StatusCode);
        Assert.True(rec.Headers.CacheControl?.NoStore);
        Assert.Equal("nosniff", rec.Headers.GetValues("X-Content-Type-Options").Single());
        var missing = await client.GetAsync($"/api/v1/profiles/{Paths.Escape(ApiTestData.Isdn(99))}");
        Assert.True(missing.Headers.CacheControl?.NoStore);

        var ui = await client.GetAsync("/");
        var policy = ui.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", ui.Headers.GetValues("X-Content-Type-Options").Single());
    }
}

/// Subscribers 1–2000 in a Redis of its own whose memory is nearly full under volatile-lru,
/// as a production Redis is; structure G may use 1 MiB per hour, 256 KiB per answer.
public sealed class BulkBurstFactory() : PrivateRedisFactory(2000, ("Api:BulkCacheBudgetBytes", "1048576"), ("Api:BulkCacheMaxBytes", "262144"));

public sealed class BulkBurstTests(BulkBurstFactory api) : IClassFixture<BulkBurstFactory>
{
    [Fact]
    public async Task A_burst_of_distinct_bulk_lists_leaves_the_records_in_redis()
    {
        var server = api.Redis.Connection.GetServers()[0];
        var used = long.Parse(((string)(await server.ExecuteAsync("MEMORY", "STATS")).ToDictionary()["total.allocated"])!, System.Globalization.CultureInfo.InvariantCulture);
        await server.ConfigSetAsync("maxmemory-policy", "volatile-lru");
        await server.ConfigSetAsync("maxmemory", (used + 8 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var records = Enumerable.Range(1, 2000).Select(i => api.Redis.Keys.Rec(ApiTestData.Isdn(i))).ToArray();
        Assert.Equal(2000, await api.Redis.Db.KeyExistsAsync(records));

        using var client = api.Client(ApiFactory.CampaignKey);
        async Task<JsonElement> PostAsync(IEnumerable<int> ids)
        {
            var response = await client.PostAsJsonAsync("/api/v1/recommendations/bulk", new { isdns = ids.Select(ApiTestData.Isdn).ToArray() });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }

        // A small list is kept as before: its repeat is answered from structure G.
        int[] small = [1, 2, 3];
        await PostAsync(small);
        await Infrastructure.Poll.UntilAsync(async () => (await PostAsync(small)).GetProperty("cached").GetBoolean(), "a small list answered from structure G");

        // 50 distinct lists: 40 of 300 ISDNs (under the per-answer cap) and 10 of 1,500 (over
        // it), ~14 MB of answers against 8 MB of free memory.
        for (var list = 0; list < 50; list++)
        {
            var size = list < 40 ? 300 : 1500;
            var json = await PostAsync(Enumerable.Range(0, size).Select(k => (list * 53 + k) % 2000 + 1).Append(1_000_000 + list));
            Assert.Equal(size, json.GetProperty("found").GetInt32());
        }

        Assert.Equal(2000, await api.Redis.Db.KeyExistsAsync(records));
        var info = await server.InfoAsync("stats");
        Assert.Equal("0", info.SelectMany(g => g).Single(p => p.Key == "evicted_keys").Value);
        // What structure G holds stays within the hour's budget plus the answers in flight.
        long held = 0;
        await foreach (var key in server.KeysAsync(pattern: api.Redis.Keys.Namespace + ":bulk:*"))
            if (!((string)key!).Contains(":bulk:budget:", StringComparison.Ordinal))
                held += await api.Redis.Db.StringLengthAsync(key);
        Assert.InRange(held, 1, 2 * 1048576);
    }
}
