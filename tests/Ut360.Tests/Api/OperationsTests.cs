using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;

namespace Ut360.Tests.Api;

public sealed class OperationsTests(LookupFactory api) : IClassFixture<LookupFactory>
{
    [Theory]
    [InlineData("/api/v1/recommendations/{isdn}", "lookup")]
    [InlineData("/api/v1/profiles/{isdn}", "lookup")]
    [InlineData("/api/v1/services/EasyCredit/recommendations", "analyst")]
    [InlineData("/api/v1/risk/LOW/subscribers", "analyst")]
    [InlineData("/api/v1/clusters/0/subscribers", "analyst")]
    [InlineData("/api/v1/analytics/services", "analyst")]
    [InlineData("/api/v1/analytics/risk", "analyst")]
    [InlineData("/api/v1/analytics/clusters", "analyst")]
    [InlineData("/api/v1/stats", "analyst")]
    [InlineData("/api/v1/risk/LOW/export", "campaign")]
    [InlineData("/api/v1/admin/sync/history", "admin")]
    [InlineData("/api/v1/admin/cache", "admin")]
    public async Task Each_endpoint_needs_a_key_with_its_role(string template, string role)
    {
        var path = template.Replace("{isdn}", Paths.Escape(ApiTestData.Isdn(1)));
        var keys = new Dictionary<string, string>
        {
            ["lookup"] = ApiFactory.LookupKey, ["analyst"] = ApiFactory.AnalystKey,
            ["campaign"] = ApiFactory.CampaignKey, ["admin"] = ApiFactory.AdminKey,
        };
        using (var anonymous = api.Client(null))
        {
            var response = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        using (var unknown = api.Client("no-such-key-0123456789"))
            Assert.Equal(HttpStatusCode.Unauthorized, (await unknown.GetAsync(path)).StatusCode);
        foreach (var (name, key) in keys)
        {
            using var client = api.Client(key);
            var response = await client.GetAsync(path);
            if (name == role)
                Assert.True(response.IsSuccessStatusCode, $"{name} on {path}: {response.StatusCode}");
            else
            {
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }
    }

    [Fact]
    public async Task Health_metrics_and_the_reference_page_are_open()
    {
        using var client = api.Client(null);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        var ready = await client.GetFromJsonAsync<JsonElement>("/health/ready");
        Assert.Equal("Healthy", ready.GetProperty("status").GetString());
        Assert.Equal("Healthy", ready.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
        var openapi = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.True(openapi.GetProperty("paths").TryGetProperty("/api/v1/services/{type}/recommendations", out _));
        // The key scheme, required by the role-protected operations and not by the open ones.
        var scheme = openapi.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        Assert.Equal("apiKey", scheme.GetProperty("type").GetString());
        Assert.Equal("X-Api-Key", scheme.GetProperty("name").GetString());
        var bulk = openapi.GetProperty("paths").GetProperty("/api/v1/recommendations/bulk").GetProperty("post");
        Assert.True(bulk.GetProperty("security")[0].TryGetProperty("ApiKey", out _));
        Assert.All(openapi.GetProperty("paths").EnumerateObject().Where(p => p.Name.StartsWith("/api/v1/", StringComparison.Ordinal)),
            path => Assert.All(path.Value.EnumerateObject(), op => Assert.True(op.Value.TryGetProperty("security", out _), $"{op.Name} {path.Name}")));
        // The bulk body in its accepted shapes.
        var content = bulk.GetProperty("requestBody").GetProperty("content");
        Assert.Equal(["application/json", "text/csv", "text/plain", "multipart/form-data"], content.EnumerateObject().Select(p => p.Name));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/scalar")).StatusCode);

        using var authed = api.Client();
        await authed.GetAsync($"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(3))}");
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("http_server_request_duration_seconds_bucket", metrics);
        Assert.Contains("ut360_cache_hits", metrics);
        Assert.Contains("dotnet_gc_collections", metrics);
        Assert.Contains("/api/v1/recommendations/{**isdn}", metrics);
    }

    [Fact]
    public async Task An_unknown_api_path_is_a_404_problem()
    {
        using var client = api.Client();
        var response = await client.GetAsync("/api/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Analytics_follow_patterns_7_and_8()
    {
        var recs = LookupFactory.InPostgres.Select(ApiTestData.Rec).ToList();
        var services = await api.GetJsonAsync("/api/v1/analytics/services");
        var easy = services.EnumerateArray().Single(s => s.GetProperty("service_type").GetString() == "EasyCredit");
        Assert.Equal(recs.Count(r => r.ServiceType == "EasyCredit"), easy.GetProperty("total_count").GetInt64());
        Assert.Equal(recs.Where(r => r.ServiceType == "EasyCredit").Sum(r => r.AdvanceAmount), easy.GetProperty("total_advance").GetDecimal());

        var risk = await api.GetJsonAsync("/api/v1/analytics/risk");
        Assert.Equal(recs.Count(r => r.ServiceType == "MBFG" && r.BadDebtRisk == "MEDIUM"),
            risk.EnumerateArray().Single(b => b.GetProperty("service_type").GetString() == "MBFG" && b.GetProperty("bad_debt_risk").GetString() == "MEDIUM").GetProperty("count").GetInt64());

        var clusters = await api.GetJsonAsync("/api/v1/analytics/clusters");
        Assert.Equal(4, clusters.GetArrayLength());
        Assert.Equal("Cluster 2", clusters[2].GetProperty("cluster_label").GetString());
    }

    [Fact]
    public async Task Stats_come_from_redis_and_are_counted_in_postgresql_when_redis_lacks_them()
    {
        var recs = LookupFactory.InPostgres.Select(ApiTestData.Rec).ToList();
        var fromPg = await api.GetJsonAsync("/api/v1/stats");
        Assert.Equal("postgres", fromPg.GetProperty("source").GetString());
        Assert.Equal(recs.Count, fromPg.GetProperty("total_subscribers").GetInt64());
        Assert.Equal(recs.Count(r => r.BadDebtRisk == "LOW"), fromPg.GetProperty("total_low_risk").GetInt64());

        await api.Redis.Db.HashSetAsync(api.Redis.Keys.MetaStats, [new HashEntry("total_subscribers", 214504), new HashEntry("last_updated", "2025-10-22T10:30:00Z")]);
        try
        {
            var fromRedis = await api.GetJsonAsync("/api/v1/stats");
            Assert.Equal("redis", fromRedis.GetProperty("source").GetString());
            Assert.Equal(214504, fromRedis.GetProperty("total_subscribers").GetInt64());
        }
        finally
        {
            await api.Redis.Db.KeyDeleteAsync(api.Redis.Keys.MetaStats);
        }
    }

    [Fact]
    public async Task Sync_history_comes_from_sync_runs()
    {
        await using (var cmd = api.Db.DataSource.CreateCommand("""
            INSERT INTO sync_runs (kind, trigger, started_at, finished_at, duration_ms, keys_written, outcome)
            VALUES ('full', 'cli', now() - interval '1 hour', now() - interval '59 minutes', 60000, 429008, 'succeeded'),
                   ('incremental', 'schedule', now() - interval '1 minute', now(), 900, 12, 'succeeded')
            """))
            await cmd.ExecuteNonQueryAsync();
        var history = await api.GetJsonAsync("/api/v1/admin/sync/history?limit=1", ApiFactory.AdminKey);
        Assert.Equal(1, history.GetArrayLength());
        Assert.Equal("incremental", history[0].GetProperty("kind").GetString());

        var cache = await api.GetJsonAsync("/api/v1/admin/cache", ApiFactory.AdminKey);
        Assert.True(cache.TryGetProperty("hit_ratio", out _));
    }
}

/// A factory whose keys may make 5 requests per second.
public sealed class RateLimitedFactory : ApiFactory
{
    protected override IEnumerable<(string Key, string Value)> ExtraSettings =>
        [("Api:RateLimitPerSecond", "1"), ("Api:RateLimitBurst", "5")];
}

public sealed class RateLimitTests(RateLimitedFactory api) : IClassFixture<RateLimitedFactory>
{
    [Fact]
    public async Task A_key_over_its_rate_limit_gets_429_while_other_keys_and_health_do_not()
    {
        using var client = api.Client(ApiFactory.LookupKey);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
            statuses.Add((await client.GetAsync("/api/v1/recommendations/not-an-isdn")).StatusCode);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        var limited = await client.GetAsync("/api/v1/recommendations/not-an-isdn");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.True(limited.Headers.Contains("Retry-After"));

        using var other = api.Client(ApiFactory.AnalystKey);
        Assert.Equal(HttpStatusCode.BadRequest, (await other.GetAsync("/api/v1/risk/NOPE/subscribers")).StatusCode);
        using var anonymous = api.Client(null);
        for (var i = 0; i < 10; i++)
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
    }
}

/// The sync engine behind POST /admin/sync, on a database and namespace of this class's own.
public sealed class SyncTriggerTests(LookupFactory api) : IClassFixture<LookupFactory>
{
    [Fact]
    public async Task After_a_sync_started_through_the_api_finishes_the_api_returns_the_new_data()
    {
        var rec = ApiTestData.Rec(42);
        var path = $"/api/v1/recommendations/{Paths.Escape(rec.Isdn)}";
        Assert.Equal(rec.AdvanceAmount, (await api.GetJsonAsync(path)).GetProperty("advance_amount").GetDecimal());
        await using (var cmd = api.Db.DataSource.CreateCommand("UPDATE recommendations SET advance_amount = 77000, updated_at = now() WHERE isdn = @i"))
        {
            cmd.Parameters.AddWithValue("i", rec.Isdn);
            await cmd.ExecuteNonQueryAsync();
        }
        using var client = api.Client(ApiFactory.AdminKey);
        var response = await client.PostAsync("/api/v1/admin/sync", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var runId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("run_id").GetInt64();

        var deadline = DateTime.UtcNow.AddSeconds(60);
        string outcome;
        do
        {
            var history = await api.GetJsonAsync("/api/v1/admin/sync/history?limit=20", ApiFactory.AdminKey);
            outcome = history.EnumerateArray().Single(r => r.GetProperty("id").GetInt64() == runId).GetProperty("outcome").GetString()!;
            if (outcome == "running")
                await Task.Delay(100);
        } while (outcome == "running" && DateTime.UtcNow < deadline);
        Assert.Equal("succeeded", outcome);
        var after = await api.GetJsonAsync(path);
        Assert.Equal(77000, after.GetProperty("advance_amount").GetDecimal());
    }
}

/// The runtime settings the service is built with (docs/api-design.md, "Performance notes"),
/// read from the runtimeconfig.json the build writes next to the API: a misspelt MSBuild
/// property is ignored without a warning.
public sealed class RuntimeSettingsTests
{
    [Fact]
    public void The_api_runs_workstation_gc_with_background_collections()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Ut360.Api.runtimeconfig.json");
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.False(properties.GetProperty("System.GC.Server").GetBoolean());
        Assert.True(properties.GetProperty("System.GC.Concurrent").GetBoolean());
    }
}
