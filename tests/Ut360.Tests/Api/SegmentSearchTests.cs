using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Ut360.Data.Domain;
using Ut360.Data.Records;
using Ut360.Tests.Infrastructure;
using Ut360.Tests.Sync;

namespace Ut360.Tests.Api;

/// The same 400 subscribers in PostgreSQL and in Redis (records and indexes), as after a sync.
public class SegmentSearchFactory : ApiFactory
{
    public static readonly int[] Members = [.. Enumerable.Range(1, 400)];

    protected override async Task SeedAsync()
    {
        await ApiTestData.InsertAsync(Db.DataSource, Members, profiles: false);
        await ApiTestData.SyncAsync(Redis.Db, Redis.Keys, Members, profiles: false);
    }
}

/// The same data on the Redis Cluster the environment names (UT360_TEST_REDIS_CLUSTER); without
/// it the standalone server, and the cluster case is skipped (ClusterData).
public sealed class ClusterSegmentSearchFactory : SegmentSearchFactory
{
    protected override string? RedisConnectionString =>
        Environment.GetEnvironmentVariable(ClusterDataAttribute.Variable) is { Length: > 0 } cluster ? cluster + ",allowAdmin=true" : null;
}

public sealed class SegmentSearchTests(SegmentSearchFactory api) : IClassFixture<SegmentSearchFactory>
{
    /// The segment as the design defines it, computed here from the test data: by descending
    /// cv × ar (priority_score before rounding), ties by ISDN bytes descending.
    public static List<Recommendation> Expected(string? service, string? risk, int? cluster, decimal? min) =>
        [.. SegmentSearchFactory.Members.Select(ApiTestData.Rec)
            .Where(r => service is null || r.ServiceType == service)
            .Where(r => risk is null || r.BadDebtRisk == risk)
            .Where(r => cluster is null || r.ClusterGroup == cluster)
            .Where(r => min is null || Priority.Score(r.CustomerValueScore!.Value, r.AdvanceReadinessScore!.Value) >= min)
            .OrderByDescending(r => r.CustomerValueScore * r.AdvanceReadinessScore)
            .ThenByDescending(r => r.Isdn, StringComparer.Ordinal)];

    public static string Query(string? service, string? risk, int? cluster, decimal? min)
    {
        var parts = new List<string>();
        if (service is not null) parts.Add($"service={service}");
        if (risk is not null) parts.Add($"risk={risk}");
        if (cluster is not null) parts.Add($"cluster={cluster}");
        if (min is not null) parts.Add($"min_priority={min.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        return string.Join("&", parts);
    }

    [Theory]
    [InlineData("EasyCredit", "LOW", 1, null, "postgres")]
    [InlineData("MBFG", null, 2, "30.5", "postgres")]
    [InlineData("ungsanluong", "MEDIUM", null, null, "postgres")]
    [InlineData("ungsanluong", null, null, "45", "redis")]
    [InlineData("EasyCredit", null, null, null, "redis")]
    [InlineData(null, "LOW", 3, null, "postgres")]
    [InlineData(null, null, null, "60", "postgres")]
    [InlineData(null, null, null, null, "postgres")]
    public async Task Any_subset_of_filters_gives_the_exact_total_and_pages_by_descending_priority(
        string? service, string? risk, int? cluster, string? minText, string source)
    {
        decimal? min = minText is null ? null : decimal.Parse(minText, System.Globalization.CultureInfo.InvariantCulture);
        var expected = Expected(service, risk, cluster, min);
        Assert.NotEmpty(expected);
        using var client = api.Client(ApiFactory.AnalystKey);
        var seen = new List<string>();
        for (var offset = 0; offset < expected.Count; offset += 7)
        {
            // The service chooses the store: a service alone from its sorted set, an intersection from PostgreSQL.
            var response = await client.GetAsync($"/api/v1/segments?{Query(service, risk, cluster, min)}&offset={offset}&limit=7");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(source, response.Headers.GetValues("X-Segment-Store").Single());
            var json = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(expected.Count, json.GetProperty("total").GetInt64());
            Assert.Equal(source, json.GetProperty("source").GetString());
            var items = json.GetProperty("items").EnumerateArray().ToList();
            Assert.All(items, i =>
            {
                if (service is not null) Assert.Equal(service, i.GetProperty("service_type").GetString());
                if (risk is not null) Assert.Equal(risk, i.GetProperty("bad_debt_risk").GetString());
                if (cluster is not null) Assert.Equal(cluster, i.GetProperty("cluster_group").GetInt32());
                if (min is not null) Assert.True(i.GetProperty("priority_score").GetDecimal() >= min);
            });
            seen.AddRange(items.Select(i => i.GetProperty("isdn").GetString()!));
        }
        Assert.Equal(expected.Select(r => r.Isdn), seen);

        // The other store gives the same pages.
        var other = source == "redis" ? "postgres" : "redis";
        var answer = await client.GetFromJsonAsync<JsonElement>($"/api/v1/segments?{Query(service, risk, cluster, min)}&offset=3&limit=20&store={other}");
        Assert.Equal(expected.Count, answer.GetProperty("total").GetInt64());
        Assert.Equal(expected.Skip(3).Take(20).Select(r => r.Isdn), answer.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("isdn").GetString()));
    }

    [Fact]
    public async Task The_minimum_priority_includes_a_score_equal_to_it()
    {
        var edge = ApiTestData.Rec(SegmentSearchFactory.Members.First(i => ApiTestData.Rec(i).ServiceType == "MBFG"));
        var min = Priority.Score(edge.CustomerValueScore!.Value, edge.AdvanceReadinessScore!.Value);
        using var client = api.Client(ApiFactory.AnalystKey);
        foreach (var store in new[] { "redis", "postgres" })
        {
            var json = await client.GetFromJsonAsync<JsonElement>($"/api/v1/segments?service=MBFG&min_priority={min.ToString(System.Globalization.CultureInfo.InvariantCulture)}&limit=1000&store={store}");
            var isdns = json.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("isdn").GetString()).ToList();
            Assert.Contains(edge.Isdn, isdns);
            Assert.Equal(Expected("MBFG", null, null, min).Count, json.GetProperty("total").GetInt64());
        }
    }

    [Fact]
    public async Task An_intersection_is_kept_briefly_in_the_service_index_slot()
    {
        using var client = api.Client(ApiFactory.AnalystKey);
        await client.GetFromJsonAsync<JsonElement>("/api/v1/segments?service=EasyCredit&risk=MEDIUM&cluster=3&limit=5&store=redis");
        var key = $"{{{api.Redis.Keys.ServiceIndex("EasyCredit")}}}:segment:MEDIUM:3";
        var ttl = await api.Redis.Db.KeyTimeToLiveAsync(key);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        Assert.Equal(Expected("EasyCredit", "MEDIUM", 3, null).Count, await api.Redis.Db.SortedSetLengthAsync(key));
    }

    [Fact]
    public async Task An_absent_index_is_answered_from_postgres_not_as_an_empty_segment()
    {
        // A key of its own: other tests read the real indexes.
        var expected = Expected("ungsanluong", "LOW", 0, null);
        await api.Redis.Db.KeyRenameAsync(api.Redis.Keys.ClusterIndex(0), api.Redis.Keys.ClusterIndex("0:away"));
        try
        {
            using var client = api.Client(ApiFactory.AnalystKey);
            var response = await client.GetAsync("/api/v1/segments?service=ungsanluong&risk=LOW&cluster=0&limit=500&store=redis");
            Assert.Equal("postgres", response.Headers.GetValues("X-Segment-Store").Single());
            var json = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(expected.Count, json.GetProperty("total").GetInt64());
        }
        finally
        {
            await api.Redis.Db.KeyRenameAsync(api.Redis.Keys.ClusterIndex("0:away"), api.Redis.Keys.ClusterIndex(0));
        }
    }

    [Theory]
    [InlineData("service=Foo", "service")]
    [InlineData("risk=low", "risk")]
    [InlineData("cluster=9", "cluster")]
    [InlineData("cluster=-1", "cluster")]
    [InlineData("min_priority=abc", "min_priority")]
    [InlineData("min_priority=100.5", "min_priority")]
    [InlineData("min_priority=1.234", "min_priority")]
    [InlineData("min_priority=-3", "min_priority")]
    [InlineData("offset=-1", "offset")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("store=mongo", "store")]
    public async Task A_bad_filter_is_a_400_naming_it(string query, string field)
    {
        using var client = api.Client(ApiFactory.AnalystKey);
        var response = await client.GetAsync($"/api/v1/segments?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(json.GetProperty("errors").TryGetProperty(field, out _), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_segment_export_is_every_member_with_its_columns_as_a_spreadsheet_safe_csv()
    {
        var expected = Expected("EasyCredit", "LOW", null, 20m);
        using var client = api.Client(ApiFactory.CampaignKey);
        var response = await client.GetAsync("/api/v1/segments/export?service=EasyCredit&risk=LOW&min_priority=20");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(Encoding.UTF8.Preamble.ToArray(), bytes[..3]);
        var lines = Encoding.UTF8.GetString(bytes, 3, bytes.Length - 3).TrimEnd().Split('\n');
        Assert.Equal("isdn,subscriber_type,service_type,advance_amount,revenue_per_advance,cluster_group,bad_debt_risk,"
            + "arpu_avg_6m,arpu_growth_rate,arpu_trend,customer_value_score,advance_readiness_score,recommendation_date,priority,priority_score", lines[0]);
        Assert.Equal(expected.Count, lines.Length - 1);
        for (var i = 0; i < expected.Count; i++)
        {
            var r = expected[i];
            var cells = lines[i + 1].Split(',');
            // An ISDN that starts with + is written as text ('+…), never as a formula.
            Assert.Equal(r.Isdn.StartsWith('+') ? "'" + r.Isdn : r.Isdn, cells[0]);
            Assert.DoesNotMatch("^[=+\\-@]", cells[0]);
            Assert.Equal("EasyCredit", cells[2]);
            Assert.Equal(r.AdvanceAmount.ToString(System.Globalization.CultureInfo.InvariantCulture), cells[3]);
            Assert.Equal("LOW", cells[6]);
            Assert.Equal("-56.7", cells[8]); // a negative number stays a number
            Assert.Equal("2025-10-22", cells[12]);
            Assert.Equal(Priority.Score(r.CustomerValueScore!.Value, r.AdvanceReadinessScore!.Value), decimal.Parse(cells[14], System.Globalization.CultureInfo.InvariantCulture));
        }
        Assert.Contains(expected, r => r.Isdn.StartsWith('+')); // the data has such an ISDN to test
    }

    [Theory]
    [InlineData("/api/v1/risk/MEDIUM/export?columns=all", "MEDIUM", null, null)]
    [InlineData("/api/v1/clusters/2/export?columns=all", null, 2, null)]
    [InlineData("/api/v1/services/MBFG/export?columns=all&format=csv", null, null, "MBFG")]
    public async Task A_list_export_with_all_columns_has_every_member_and_the_recommendation_columns(string path, string? risk, int? cluster, string? service)
    {
        var expected = Expected(service, risk, cluster, null);
        using var client = api.Client(ApiFactory.CampaignKey);
        var bytes = await client.GetByteArrayAsync(path);
        Assert.Equal(Encoding.UTF8.Preamble.ToArray(), bytes[..3]);
        var lines = Encoding.UTF8.GetString(bytes, 3, bytes.Length - 3).TrimEnd().Split('\n');
        Assert.StartsWith("isdn,subscriber_type,service_type,advance_amount,revenue_per_advance,cluster_group,bad_debt_risk,", lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        var byIsdn = expected.ToDictionary(r => r.Isdn.StartsWith('+') ? "'" + r.Isdn : r.Isdn);
        Assert.Equal(byIsdn.Keys.Order(StringComparer.Ordinal), rows.Select(r => r[0]).Order(StringComparer.Ordinal));
        foreach (var row in rows)
        {
            var r = byIsdn[row[0]];
            Assert.Equal(r.ServiceType, row[2]);
            Assert.Equal(r.BadDebtRisk, row[6]);
            Assert.Equal(r.ClusterGroup.ToString(), row[5]);
            Assert.Equal(Priority.Score(r.CustomerValueScore!.Value, r.AdvanceReadinessScore!.Value), decimal.Parse(row[14], System.Globalization.CultureInfo.InvariantCulture));
        }
        if (service is not null) // by descending priority, as the list shows it
            Assert.Equal(expected.Select(r => r.Isdn.StartsWith('+') ? "'" + r.Isdn : r.Isdn), rows.Select(r => r[0]));
    }

    [Theory]
    [InlineData("/api/v1/risk/LOW/export?columns=name", "columns")]
    [InlineData("/api/v1/risk/LOW/export?columns=all&format=ndjson", "columns")]
    public async Task An_export_with_unknown_columns_is_a_400_naming_them(string path, string field)
    {
        using var client = api.Client(ApiFactory.CampaignKey);
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(json.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task A_segment_needs_the_analyst_role_and_its_export_the_campaign_role()
    {
        using var lookup = api.Client(ApiFactory.LookupKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await lookup.GetAsync("/api/v1/segments?service=MBFG")).StatusCode);
        using var analyst = api.Client(ApiFactory.AnalystKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await analyst.GetAsync("/api/v1/segments/export?service=MBFG")).StatusCode);
    }
}

public sealed class ClusterSegmentSearchTests(ClusterSegmentSearchFactory api) : IClassFixture<ClusterSegmentSearchFactory>
{
    [Theory]
    [ClusterData]
    public async Task On_a_redis_cluster_an_intersection_comes_from_postgres_and_a_service_alone_from_redis(string target)
    {
        Assert.Equal("cluster", target);
        using var client = api.Client(ApiFactory.AnalystKey);
        var expected = SegmentSearchTests.Expected("EasyCredit", "LOW", 1, null);
        // Even when Redis is asked for: the Cluster refuses ZINTERSTORE over keys of different slots.
        var response = await client.GetAsync("/api/v1/segments?service=EasyCredit&risk=LOW&cluster=1&limit=1000&store=redis");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("postgres", response.Headers.GetValues("X-Segment-Store").Single());
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(expected.Select(r => r.Isdn), json.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("isdn").GetString()));

        expected = SegmentSearchTests.Expected("MBFG", null, null, 30m);
        response = await client.GetAsync("/api/v1/segments?service=MBFG&min_priority=30&limit=1000");
        Assert.Equal("redis", response.Headers.GetValues("X-Segment-Store").Single());
        json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(expected.Count, json.GetProperty("total").GetInt64());
        Assert.Equal(expected.Select(r => r.Isdn), json.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("isdn").GetString()));
    }
}
