using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Ut360.Api.Segments;

namespace Ut360.Tests.Api;

public sealed class SegmentTests(LookupFactory api) : IClassFixture<LookupFactory>
{
    static IEnumerable<int> Synced => LookupFactory.InRedis;
    static IEnumerable<int> All => LookupFactory.InPostgres;

    [Fact]
    public async Task A_service_page_lists_by_descending_priority_with_the_total()
    {
        var expected = Synced.Select(ApiTestData.Rec).Where(r => r.ServiceType == "EasyCredit")
            .OrderByDescending(r => r.CustomerValueScore * r.AdvanceReadinessScore).ThenByDescending(r => r.Isdn, StringComparer.Ordinal).ToList();
        using var client = api.Client();
        var response = await client.GetAsync("/api/v1/services/EasyCredit/recommendations?offset=5&limit=10");
        Assert.Equal("hit", response.Headers.GetValues("X-Cache").Single());
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(expected.Count, json.GetProperty("total").GetInt64());
        var items = json.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(expected.Skip(5).Take(10).Select(r => r.Isdn), items.Select(i => i.GetProperty("isdn").GetString()));
        Assert.All(items, i => Assert.Equal("EasyCredit", i.GetProperty("service_type").GetString()));
        var scores = items.Select(i => i.GetProperty("score").GetDouble()).ToList();
        Assert.Equal(scores.OrderDescending(), scores);
    }

    [Fact]
    public async Task An_evicted_service_index_is_answered_from_postgres_and_rebuilt()
    {
        var key = api.Redis.Keys.ServiceIndex("MBFG");
        await api.Redis.Db.KeyDeleteAsync(key);
        var expected = All.Select(ApiTestData.Rec).Where(r => r.ServiceType == "MBFG")
            .OrderByDescending(r => r.CustomerValueScore * r.AdvanceReadinessScore).ThenByDescending(r => r.Isdn, StringComparer.Ordinal).ToList();
        using var client = api.Client();
        var response = await client.GetAsync("/api/v1/services/MBFG/recommendations?limit=20");
        Assert.Equal("miss", response.Headers.GetValues("X-Cache").Single());
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(expected.Count, json.GetProperty("total").GetInt64());   // not an empty segment
        Assert.Equal(expected.Take(20).Select(r => r.Isdn), json.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("isdn").GetString()));

        await api.Services.GetRequiredService<IndexRebuilder>().Trigger(Segment.Service(api.Redis.Keys, "MBFG"));
        await LookupTests.Until(() => api.Redis.Db.KeyExists(key));
        Assert.Equal(expected.Count, await api.Redis.Db.SortedSetLengthAsync(key));
        Assert.Null(await api.Redis.Db.KeyTimeToLiveAsync(key));
        var again = await client.GetAsync("/api/v1/services/MBFG/recommendations?limit=20");
        Assert.Equal("hit", again.Headers.GetValues("X-Cache").Single());
        var json2 = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(expected.Take(20).Select(r => r.Isdn), json2.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("isdn").GetString()));
    }

    [Fact]
    public async Task Paging_a_risk_level_with_the_cursor_returns_every_member_once()
    {
        var expected = Synced.Select(ApiTestData.Rec).Where(r => r.BadDebtRisk == "LOW").Select(r => r.Isdn).ToHashSet();
        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var json = await api.GetJsonAsync($"/api/v1/risk/LOW/subscribers?limit=7{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}");
            Assert.Equal(expected.Count, json.GetProperty("total").GetInt64());
            Assert.Equal("LOW", json.GetProperty("risk_level").GetString());
            var items = json.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("isdn").GetString()!).ToList();
            Assert.InRange(items.Count, 0, 7);
            seen.AddRange(items);
            cursor = json.GetProperty("next_cursor").GetString();
            pages++;
        } while (cursor is not null && pages < 100);
        Assert.Equal(expected.Count, seen.Count);
        Assert.Equal(expected, seen.ToHashSet());
    }

    [Fact]
    public async Task Details_true_returns_whole_recommendations()
    {
        var json = await api.GetJsonAsync("/api/v1/clusters/1/subscribers?limit=5&details=true");
        Assert.Equal(1, json.GetProperty("cluster").GetInt32());
        Assert.Equal(Synced.Count(i => i % 4 == 1), json.GetProperty("total").GetInt64());
        var items = json.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(5, items.Count);
        Assert.All(items, i => Assert.Equal(1, i.GetProperty("cluster_group").GetInt32()));
    }

    [Fact]
    public async Task A_cursor_from_another_segment_is_rejected()
    {
        var json = await api.GetJsonAsync("/api/v1/clusters/2/subscribers?limit=3");
        var cursor = json.GetProperty("next_cursor").GetString()!;
        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/clusters/0/subscribers?cursor={Uri.EscapeDataString(cursor)}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var tampered = cursor[..^2] + (cursor[^2] == 'A' ? "B" : "A") + cursor[^1];
        response = await client.GetAsync($"/api/v1/clusters/2/subscribers?cursor={Uri.EscapeDataString(tampered)}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task An_evicted_cluster_index_is_paged_from_postgres_then_rebuilt()
    {
        var key = api.Redis.Keys.ClusterIndex(3);
        await api.Redis.Db.KeyDeleteAsync(key);
        var expected = All.Where(i => i % 4 == 3).Select(ApiTestData.Isdn).Order(StringComparer.Ordinal).ToList();
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            using var client = api.Client();
            var response = await client.GetAsync($"/api/v1/clusters/3/subscribers?limit=30{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}");
            Assert.Equal("miss", response.Headers.GetValues("X-Cache").Single());
            var json = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(expected.Count, json.GetProperty("total").GetInt64());
            seen.AddRange(json.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("isdn").GetString()!));
            cursor = json.GetProperty("next_cursor").GetString();
        } while (cursor is not null);
        Assert.Equal(expected, seen);
        await api.Services.GetRequiredService<IndexRebuilder>().Trigger(Segment.Cluster(api.Redis.Keys, 3));
        await LookupTests.Until(() => api.Redis.Db.KeyExists(key));
        Assert.Equal(expected.Count, await api.Redis.Db.SetLengthAsync(key));
    }

    [Fact]
    public async Task A_risk_export_streams_every_member_as_csv_and_ndjson()
    {
        var expected = Synced.Select(ApiTestData.Rec).Where(r => r.BadDebtRisk == "MEDIUM").Select(r => r.Isdn).ToHashSet();
        using var client = api.Client(ApiFactory.CampaignKey);
        var csv = await client.GetStringAsync("/api/v1/risk/MEDIUM/export?format=csv");
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("isdn", lines[0]);
        // An ISDN starting with + is written '+… (a spreadsheet would take it for a formula).
        Assert.Equal(expected.Select(i => i.StartsWith('+') ? "'" + i : i).ToHashSet(), lines.Skip(1).ToHashSet());
        var ndjson = await client.GetStringAsync("/api/v1/risk/MEDIUM/export?format=ndjson");
        var isdns = ndjson.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("isdn").GetString()!).ToHashSet();
        Assert.Equal(expected, isdns);
    }

    [Fact]
    public async Task A_service_export_lists_isdns_with_scores_by_priority()
    {
        var expected = Synced.Select(ApiTestData.Rec).Where(r => r.ServiceType == "ungsanluong")
            .OrderByDescending(r => r.CustomerValueScore * r.AdvanceReadinessScore).ThenByDescending(r => r.Isdn, StringComparer.Ordinal).Select(r => r.Isdn).ToList();
        using var client = api.Client(ApiFactory.CampaignKey);
        var csv = await client.GetStringAsync("/api/v1/services/ungsanluong/export");
        var rows = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(expected.Select(i => i.StartsWith('+') ? "'" + i : i), rows.Select(r => r[0]));
        Assert.All(rows, r => Assert.InRange(double.Parse(r[1], System.Globalization.CultureInfo.InvariantCulture), 0, 1));
    }
}
