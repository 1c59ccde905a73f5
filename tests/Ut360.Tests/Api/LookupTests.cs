using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Ut360.Api.Infrastructure;
using Ut360.Data.Redis;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Api;

/// Subscribers 1–300 in PostgreSQL; 1–200 synced into Redis (hashes and indexes).
public sealed class LookupFactory : ApiFactory
{
    public static readonly int[] InPostgres = [.. Enumerable.Range(1, 300)];
    public static readonly int[] InRedis = [.. Enumerable.Range(1, 200)];

    protected override async Task SeedAsync()
    {
        await ApiTestData.InsertAsync(Db.DataSource, InPostgres);
        await ApiTestData.SyncAsync(Redis.Db, Redis.Keys, InRedis);
    }
}

public sealed class LookupTests(LookupFactory api) : IClassFixture<LookupFactory>
{
    RedisKeys Keys => api.Redis.Keys;

    [Fact]
    public async Task A_synced_recommendation_is_a_cache_hit_with_typed_numbers()
    {
        var rec = ApiTestData.Rec(7);
        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/recommendations/{Paths.Escape(rec.Isdn)}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hit", response.Headers.GetValues("X-Cache").Single());
        Assert.StartsWith("redis;dur=", response.Headers.GetValues("Server-Timing").Single());
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(rec.Isdn, json.GetProperty("isdn").GetString());
        Assert.Equal(JsonValueKind.Number, json.GetProperty("advance_amount").ValueKind);
        Assert.Equal(rec.AdvanceAmount, json.GetProperty("advance_amount").GetDecimal());
        Assert.Equal(rec.ClusterGroup, json.GetProperty("cluster_group").GetInt32());
        Assert.Equal(rec.ArpuTrend, json.GetProperty("arpu_trend").GetString());
        Assert.Equal("2025-10-22", json.GetProperty("recommendation_date").GetString());
        Assert.Equal(rec.PriorityScore, json.GetProperty("priority_score").GetDecimal());
    }

    [Fact]
    public async Task An_unescaped_slash_in_the_isdn_still_finds_the_record()
    {
        var id = Enumerable.Range(1, 200).First(i => ApiTestData.Isdn(i).Contains('/'));
        var json = await api.GetJsonAsync($"/api/v1/recommendations/{ApiTestData.Isdn(id)}");
        Assert.Equal(ApiTestData.Isdn(id), json.GetProperty("isdn").GetString());
    }

    [Fact]
    public async Task Fields_returns_only_the_fields_asked_for()
    {
        var rec = ApiTestData.Rec(8);
        var json = await api.GetJsonAsync($"/api/v1/recommendations/{Paths.Escape(rec.Isdn)}?fields=advance_amount,priority_score");
        Assert.Equal(["advance_amount", "priority_score"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(rec.AdvanceAmount, json.GetProperty("advance_amount").GetDecimal());
        Assert.Equal(rec.PriorityScore, json.GetProperty("priority_score").GetDecimal());
    }

    [Fact]
    public async Task A_record_absent_from_redis_is_read_from_postgres_and_written_back_with_its_ttl()
    {
        var rec = ApiTestData.Rec(201);
        using var client = api.Client();
        var first = await client.GetAsync($"/api/v1/recommendations/{Paths.Escape(rec.Isdn)}");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("miss", first.Headers.GetValues("X-Cache").Single());
        Assert.Contains("pg;dur=", first.Headers.GetValues("Server-Timing").Single());
        var ttl = await api.Redis.Db.KeyTimeToLiveAsync(Keys.Rec(rec.Isdn));
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, RedisKeys.RecordTtl - TimeSpan.FromMinutes(1), RedisKeys.RecordTtl);
        Assert.Equal(rec.ServiceType, (string?)await api.Redis.Db.HashGetAsync(Keys.Rec(rec.Isdn), "service_type"));

        var second = await client.GetAsync($"/api/v1/recommendations/{Paths.Escape(rec.Isdn)}");
        Assert.Equal("hit", second.Headers.GetValues("X-Cache").Single());
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
    }

    /// Holds recommendations under an exclusive lock until released, so a miss started meanwhile
    /// waits in its PostgreSQL read.
    async Task<TableLock> LockRecommendationsAsync()
    {
        var conn = await api.Db.DataSource.OpenConnectionAsync();
        var tx = await conn.BeginTransactionAsync();
        await using (var lockCmd = new Npgsql.NpgsqlCommand("LOCK TABLE recommendations IN ACCESS EXCLUSIVE MODE", conn, tx))
            await lockCmd.ExecuteNonQueryAsync();
        return new TableLock(conn, tx);
    }

    sealed class TableLock(Npgsql.NpgsqlConnection conn, Npgsql.NpgsqlTransaction tx) : IAsyncDisposable
    {
        public Task ReleaseAsync() => tx.CommitAsync();

        public async ValueTask DisposeAsync()
        {
            await tx.DisposeAsync();
            await conn.DisposeAsync();
        }
    }

    /// Sends a request whose misses wait in their PostgreSQL read, does `meanwhile` (what a sync
    /// does at that moment), then lets the read go on.
    async Task<HttpResponseMessage> RaceAsync(Func<HttpClient, Task<HttpResponseMessage>> send, Func<Task> meanwhile)
    {
        var metrics = api.Services.GetRequiredService<ApiMetrics>();
        var reads = metrics.PostgresReads;
        await using var held = await LockRecommendationsAsync();
        using var client = api.Client();
        var request = send(client);
        await Until(() => metrics.PostgresReads > reads);   // the misses are now reading PostgreSQL
        await meanwhile();
        await held.ReleaseAsync();
        return await request;
    }

    [Fact]
    public async Task A_fill_never_overwrites_what_a_sync_wrote_while_postgres_was_being_read()
    {
        var rec = ApiTestData.Rec(203);
        var key = Keys.Rec(rec.Isdn);
        var response = await RaceAsync(c => c.GetAsync($"/api/v1/recommendations/{Paths.Escape(rec.Isdn)}"),
            () => api.Redis.Db.HashSetAsync(key, RecordCodec.EncodeRec(rec with { AdvanceAmount = 99000 })));   // a newer version
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("99000", (string?)await api.Redis.Db.HashGetAsync(key, "advance_amount"));
    }

    [Fact]
    public async Task A_bulk_fill_never_overwrites_what_a_sync_wrote_and_fills_the_rest()
    {
        var (raced, plain) = (ApiTestData.Rec(281), ApiTestData.Rec(282));
        var response = await RaceAsync(c => c.PostAsJsonAsync("/api/v1/recommendations/bulk", new { isdns = new[] { raced.Isdn, plain.Isdn } }),
            () => api.Redis.Db.HashSetAsync(Keys.Rec(raced.Isdn), RecordCodec.EncodeRec(raced with { AdvanceAmount = 99000 })));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The write-back follows the answer: wait until it has filled the key nobody else wrote.
        await Poll.UntilAsync(() => api.Redis.Db.KeyExistsAsync(Keys.Rec(plain.Isdn)), "the bulk's miss written back to Redis");
        Assert.Equal("99000", (string?)await api.Redis.Db.HashGetAsync(Keys.Rec(raced.Isdn), "advance_amount"));
        Assert.Equal((string?)RecordCodec.EncodeRec(plain).Single(e => e.Name == "advance_amount").Value,
            (string?)await api.Redis.Db.HashGetAsync(Keys.Rec(plain.Isdn), "advance_amount"));
        Assert.InRange((await api.Redis.Db.KeyTimeToLiveAsync(Keys.Rec(plain.Isdn)))!.Value, TimeSpan.FromDays(6.9), TimeSpan.FromDays(7));
    }

    [Fact]
    public async Task A_fill_never_brings_back_a_subscriber_a_sync_deleted_while_postgres_was_being_read()
    {
        var rec = ApiTestData.Rec(205);
        // Meanwhile a sync deletes the subscriber: it lists it among the deleted, as SyncEngine does.
        var response = await RaceAsync(c => c.GetAsync($"/api/v1/recommendations/{Paths.Escape(rec.Isdn)}"),
            () => api.Redis.Db.SetAddAsync(Keys.SyncDeleted, rec.Isdn));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);   // the row it read, answered once
        // A single lookup writes back before it answers: nothing was written.
        Assert.False(await api.Redis.Db.KeyExistsAsync(Keys.Rec(rec.Isdn)));
    }

    [Fact]
    public async Task A_bulk_fill_skips_subscribers_a_sync_is_deleting_and_fills_the_rest()
    {
        var (deleting, plain) = (ApiTestData.Rec(283), ApiTestData.Rec(284));
        // A sync in its deletion step: the subscriber is in the pending set.
        var response = await RaceAsync(c => c.PostAsJsonAsync("/api/v1/recommendations/bulk", new { isdns = new[] { deleting.Isdn, plain.Isdn } }),
            () => api.Redis.Db.SetAddAsync(Keys.SyncGone, deleting.Isdn));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Poll.UntilAsync(() => api.Redis.Db.KeyExistsAsync(Keys.Rec(plain.Isdn)), "the bulk's other miss written back to Redis");
        Assert.False(await api.Redis.Db.KeyExistsAsync(Keys.Rec(deleting.Isdn)));
    }

    [Fact]
    public async Task An_unknown_isdn_is_a_404_problem()
    {
        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(999_999))}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("/api/v1/recommendations/not-an-isdn", "isdn")]
    [InlineData("/api/v1/recommendations/abc%27%3B%20DROP%20TABLE%20recommendations%3B--", "isdn")]
    [InlineData("/api/v1/profiles/*", "isdn")]
    [InlineData("/api/v1/recommendations/by-msisdn/12345", "msisdn")]
    [InlineData("/api/v1/profiles/by-msisdn/0912abc456", "msisdn")]
    [InlineData("/api/v1/services/Unknown/recommendations", "type")]
    [InlineData("/api/v1/services/EasyCredit/recommendations?limit=0", "limit")]
    [InlineData("/api/v1/services/EasyCredit/recommendations?limit=1001", "limit")]
    [InlineData("/api/v1/services/EasyCredit/recommendations?offset=-1", "offset")]
    [InlineData("/api/v1/services/EasyCredit/recommendations?limit=abc", "limit")]
    [InlineData("/api/v1/services/EasyCredit/recommendations?offset=1e3", "offset")]
    [InlineData("/api/v1/risk/LOW/subscribers?details=maybe", "details")]
    [InlineData("/api/v1/admin/sync/history?limit=99999999999", "limit")]
    [InlineData("/api/v1/risk/SEVERE/subscribers", "level")]
    [InlineData("/api/v1/risk/LOW/subscribers?limit=5000", "limit")]
    [InlineData("/api/v1/risk/LOW/subscribers?cursor=forged", "cursor")]
    [InlineData("/api/v1/clusters/9/subscribers", "id")]
    [InlineData("/api/v1/clusters/x*/subscribers", "id")]
    [InlineData("/api/v1/risk/low*/export", "level")]
    [InlineData("/api/v1/risk/LOW/export?format=xml", "format")]
    [InlineData("/api/v1/admin/sync/history?limit=0", "limit")]
    public async Task Bad_input_is_a_400_validation_problem_naming_the_field(string path, string field)
    {
        using var client = api.Client();
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(json.GetProperty("errors").TryGetProperty(field, out _), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_bad_phone_number_is_never_echoed()
    {
        using var client = api.Client();
        var response = await client.GetAsync("/api/v1/recommendations/by-msisdn/0912abc4567");
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("0912abc4567", body);
    }

    [Fact]
    public async Task A_phone_number_finds_its_recommendation_and_profile()
    {
        var rec = ApiTestData.Rec(9);
        var msisdn = "0" + ApiTestData.Msisdn(9)[2..];   // 09… local form
        var json = await api.GetJsonAsync($"/api/v1/recommendations/by-msisdn/{msisdn}");
        Assert.Equal(rec.Isdn, json.GetProperty("isdn").GetString());
        var profile = await api.GetJsonAsync($"/api/v1/profiles/by-msisdn/%2B{ApiTestData.Msisdn(9)}");
        Assert.Equal(rec.Isdn, profile.GetProperty("isdn").GetString());
    }

    [Theory]
    [InlineData("+84 9{0} {1} {2}")]
    [InlineData("84-9{0}-{1}-{2}")]
    [InlineData("(+84) 9{0}{1}{2}")]
    [InlineData("+840 9{0}{1}{2}")]
    [InlineData("0084 9{0}{1}{2}")]
    public async Task A_phone_number_written_as_people_write_it_finds_the_same_subscriber(string spelling)
    {
        var digits = ApiTestData.Msisdn(11)[3..];   // the 8 digits after 849
        var written = string.Format(System.Globalization.CultureInfo.InvariantCulture, spelling, digits[..2], digits[2..5], digits[5..]);
        var rec = await api.GetJsonAsync($"/api/v1/recommendations/by-msisdn/{Uri.EscapeDataString(written)}");
        Assert.Equal(ApiTestData.Isdn(11), rec.GetProperty("isdn").GetString());
        var profile = await api.GetJsonAsync($"/api/v1/profiles/by-msisdn/{Uri.EscapeDataString(written)}");
        Assert.Equal(ApiTestData.Isdn(11), profile.GetProperty("isdn").GetString());
    }

    [Theory]
    [InlineData("+84 24 3825 1234")]
    [InlineData("+1 202 555 0100")]
    [InlineData("0912 345")]
    public async Task What_cannot_be_a_vietnamese_mobile_number_is_a_400_not_a_404(string written)
    {
        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/recommendations/by-msisdn/{Uri.EscapeDataString(written)}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(json.GetProperty("errors").TryGetProperty("msisdn", out _));
    }

    [Fact]
    public async Task A_synced_profile_is_a_hit_with_parsed_sections_and_months_in_order()
    {
        var rec = ApiTestData.Rec(10);
        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/profiles/{Paths.Escape(rec.Isdn)}");
        Assert.Equal("hit", response.Headers.GetValues("X-Cache").Single());
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("redis", json.GetProperty("source").GetString());
        Assert.Equal(rec.ServiceType, json.GetProperty("basic").GetProperty("service").GetString());
        Assert.Equal(JsonValueKind.Number, json.GetProperty("kpi_scores").GetProperty("customer_value").ValueKind);
        var months = json.GetProperty("monthly_arpu").EnumerateArray().Select(m => m.GetProperty("month").GetString()).ToList();
        Assert.Equal(6, months.Count);
        Assert.Equal(months.Order(StringComparer.Ordinal), months);
    }

    [Fact]
    public async Task A_profile_absent_from_redis_comes_from_postgres_in_month_order_and_is_written_back()
    {
        var rec = ApiTestData.Rec(204);
        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/profiles/{Paths.Escape(rec.Isdn)}");
        Assert.Equal("miss", response.Headers.GetValues("X-Cache").Single());
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("postgres", json.GetProperty("source").GetString());
        Assert.Equal("Giảm ARPU", json.GetProperty("risk_assessment").GetProperty("factors")[0].GetString());
        var months = json.GetProperty("monthly_arpu").EnumerateArray().Select(m => m.GetProperty("month").GetString()).ToList();
        Assert.Equal(months.Order(StringComparer.Ordinal), months);
        Assert.True(await api.Redis.Db.KeyExistsAsync(Keys.Profile(rec.Isdn)));
        var again = await client.GetAsync($"/api/v1/profiles/{Paths.Escape(rec.Isdn)}");
        Assert.Equal("hit", again.Headers.GetValues("X-Cache").Single());
    }

    internal static Task Until(Func<bool> condition, int timeoutMs = 10_000) =>
        Poll.UntilAsync(() => Task.FromResult(condition()), "the condition", timeoutMs);
}
