using System.Net;
using System.Text.Json;
using Ut360.Data.Sync;

namespace Ut360.Tests.Api;

public class CursorVersionFactory : ApiFactory
{
    protected override async Task SeedAsync()
    {
        await ApiTestData.InsertAsync(Db.DataSource, [.. Enumerable.Range(1, 60)]);
        await SyncAsync();
    }

    public Task<SyncResult> SyncAsync() =>
        new SyncEngine(Db.DataSource, Redis.Connection, Redis.Keys).RunAsync(new SyncRequest { Trigger = "test" }, null, CancellationToken.None);
}

public sealed class CursorVersionClusterFactory : CursorVersionFactory
{
    protected override string? RedisConnectionString => ClusterFactAttribute.ConnectionString;
}

public sealed class CursorVersionClusterTests(CursorVersionClusterFactory api) : IClassFixture<CursorVersionClusterFactory>
{
    [ClusterFact]
    public Task On_the_cluster_a_cursor_from_before_a_sync_is_refused_with_a_409_problem() => CursorVersionTests.AfterSyncAsync(api);
}

/// Issue 16, item 3: a UC3/UC4 cursor carries the version of the list it started in.
public sealed class CursorVersionTests(CursorVersionFactory api) : IClassFixture<CursorVersionFactory>
{
    [Fact]
    public Task A_cursor_from_before_a_sync_is_refused_with_a_409_problem_and_a_new_traversal_works() => AfterSyncAsync(api);

    internal static async Task AfterSyncAsync(CursorVersionFactory api)
    {
        var first = await api.GetJsonAsync("/api/v1/clusters/1/subscribers?limit=3");
        var cursor = first.GetProperty("next_cursor").GetString()!;
        // The same version: the next page is served.
        await api.GetJsonAsync($"/api/v1/clusters/1/subscribers?limit=3&cursor={Uri.EscapeDataString(cursor)}");

        Assert.Equal(SyncOutcome.Succeeded, (await api.SyncAsync()).Outcome);

        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/clusters/1/subscribers?limit=3&cursor={Uri.EscapeDataString(cursor)}");
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(409, problem.GetProperty("status").GetInt32());
        Assert.Contains("Start again", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Started again after the sync, the traversal walks the whole list.
        var seen = new HashSet<string>();
        string? next = null;
        do
        {
            var page = await api.GetJsonAsync("/api/v1/clusters/1/subscribers?limit=4" + (next is null ? "" : "&cursor=" + Uri.EscapeDataString(next)));
            foreach (var item in page.GetProperty("items").EnumerateArray())
                Assert.True(seen.Add(item.GetProperty("isdn").GetString()!));
            next = page.GetProperty("next_cursor").ValueKind == JsonValueKind.String ? page.GetProperty("next_cursor").GetString() : null;
        } while (next is not null);
        Assert.Equal(Enumerable.Range(1, 60).Count(i => i % 4 == 1), seen.Count);
    }

    [Fact]
    public async Task A_postgresql_cursor_from_before_a_load_is_refused_with_a_409()
    {
        // The cluster-3 index is absent, so its pages come from PostgreSQL (keyset by ISDN).
        await api.Redis.Db.KeyDeleteAsync(api.Redis.Keys.ClusterIndex(3));
        var first = await api.GetJsonAsync("/api/v1/clusters/3/subscribers?limit=3");
        var cursor = first.GetProperty("next_cursor").GetString()!;
        await using (var cmd = api.Db.DataSource.CreateCommand(
            "INSERT INTO data_loads (data_version, mode, source_dir, source_format, outcome, finished_at) VALUES ('v-test', 'upsert', 'test', 'csv', 'succeeded', now())"))
            await cmd.ExecuteNonQueryAsync();

        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/clusters/3/subscribers?limit=3&cursor={Uri.EscapeDataString(cursor)}");
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }
}
