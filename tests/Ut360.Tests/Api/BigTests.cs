using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Api;

/// Campaign-sized data: 9,000 subscribers in PostgreSQL, 5,000 of them in Redis, and a LOW-risk
/// index of 180,000 members (the design's figure) written straight into this namespace.
public sealed class BigFactory : ApiFactory
{
    public const int LowRiskMembers = 180_000;

    public static string SyntheticIsdn(int i) => "Z" + i.ToString("D21", System.Globalization.CultureInfo.InvariantCulture) + "==";

    protected override async Task SeedAsync()
    {
        await ApiTestData.InsertAsync(Db.DataSource, [.. Enumerable.Range(1, 9_000)], profiles: false);
        await ApiTestData.SyncAsync(Redis.Db, Redis.Keys, [.. Enumerable.Range(1, 5_000)], indexes: false, profiles: false);
        var key = Redis.Keys.RiskIndex("LOW");
        var writes = new List<Task>();
        for (var start = 0; start < LowRiskMembers; start += 10_000)
            writes.Add(Redis.Db.SetAddAsync(key, [.. Enumerable.Range(start, 10_000).Select(i => (RedisValue)SyntheticIsdn(i))]));
        await Task.WhenAll(writes);
    }
}

public sealed class BigTests(BigFactory api) : IClassFixture<BigFactory>
{
    [Fact]
    public async Task A_bulk_of_ten_thousand_with_unknown_isdns_answers_each_and_writes_the_misses_back()
    {
        var known = Enumerable.Range(1, 9_000);
        var unknown = Enumerable.Range(900_001, 1_000);
        var isdns = known.Concat(unknown).Select(ApiTestData.Isdn).ToArray();
        Assert.Equal(10_000, isdns.Length);
        using var client = api.Client(ApiFactory.CampaignKey);
        var response = await client.PostAsJsonAsync("/api/v1/recommendations/bulk", new { isdns });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(10_000, json.GetProperty("requested").GetInt32());
        Assert.Equal(9_000, json.GetProperty("found").GetInt32());
        Assert.Equal(1_000, json.GetProperty("not_found").GetInt32());
        var results = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(10_000, results.Count);
        var notFound = results.Where(r => !r.GetProperty("found").GetBoolean()).Select(r => r.GetProperty("isdn").GetString()!).ToHashSet();
        Assert.Equal(unknown.Select(ApiTestData.Isdn).ToHashSet(), notFound);
        // 5,001–9,000 came from PostgreSQL and are in Redis now.
        await Poll.UntilAsync(() => api.Redis.Db.KeyExistsAsync(api.Redis.Keys.Rec(ApiTestData.Isdn(8_999))), "the bulk's misses written back to Redis");
        Assert.False(await api.Redis.Db.KeyExistsAsync(api.Redis.Keys.Rec(ApiTestData.Isdn(900_001))));
    }

    [Fact]
    public async Task An_export_streams_all_180000_low_risk_members()
    {
        using var client = api.Client(ApiFactory.CampaignKey);
        using var response = await client.GetAsync("/api/v1/risk/LOW/export?format=csv", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("isdn", await reader.ReadLineAsync());
        var seen = new HashSet<string>(BigFactory.LowRiskMembers);
        var lines = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            lines++;
            seen.Add(line.StartsWith('\'') ? line[1..] : line); // '+… is how a CSV cell starting with + is written
        }
        Assert.Equal(BigFactory.LowRiskMembers, lines);
        Assert.Equal(BigFactory.LowRiskMembers, seen.Count);
        Assert.Contains(BigFactory.SyntheticIsdn(179_999), seen);
    }

    [Fact]
    public async Task Paging_the_180000_member_set_uses_sscan_pages_of_the_limit()
    {
        var json = await api.GetJsonAsync("/api/v1/risk/LOW/subscribers?limit=1000", ApiFactory.AnalystKey);
        Assert.Equal(BigFactory.LowRiskMembers, json.GetProperty("total").GetInt64());
        Assert.Equal(1000, json.GetProperty("items").GetArrayLength());
        Assert.NotNull(json.GetProperty("next_cursor").GetString());
    }
}
