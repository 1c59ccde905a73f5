using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Ut360.Api.Infrastructure;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Api;

/// A redis-server of this test class's own, on a free port, so it can be killed and restarted
/// without touching the shared one.
public sealed class PrivateRedis : IDisposable
{
    Process? _process;
    public int Port { get; } = FreePort();
    public string ConnectionString => $"127.0.0.1:{Port},allowAdmin=true";

    public PrivateRedis() => Start();

    public void Start()
    {
        _process = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        _process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect("127.0.0.1", Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
        }
    }

    public void Kill()
    {
        _process?.Kill();
        _process?.WaitForExit();
        _process?.Dispose();
        _process = null;
    }

    public void Dispose() => Kill();

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// The API against a redis-server of the test class's own, holding subscribers 1–`count`
/// (also in PostgreSQL), with a 200 ms circuit so recovery is quick to observe.
public abstract class PrivateRedisFactory(int count, params (string Key, string Value)[] settings) : ApiFactory
{
    public PrivateRedis RedisServer { get; } = new();
    protected override string? RedisConnectionString => RedisServer.ConnectionString;
    protected override IEnumerable<(string Key, string Value)> ExtraSettings => [("Redis:BreakerOpenMs", "200"), .. settings];

    protected override async Task SeedAsync()
    {
        var ids = Enumerable.Range(1, count).ToArray();
        await ApiTestData.InsertAsync(Db.DataSource, ids);
        await ApiTestData.SyncAsync(Redis.Db, Redis.Keys, ids);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        RedisServer.Dispose();
    }

    /// Once Redis answers again, the API goes back to it by itself: reads of `path` (served all
    /// along) turn into Redis hits.
    public static Task HitsAgainAsync(HttpClient client, string path) =>
        Poll.UntilAsync(async () =>
        {
            var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return response.Headers.GetValues("X-Cache").Single() == "hit";
        }, $"{path} a Redis hit again", 30_000);
}

public sealed class RedisFaultFactory() : PrivateRedisFactory(50);

public sealed class RedisFaultTests(RedisFaultFactory api) : IClassFixture<RedisFaultFactory>
{
    [Fact]
    public async Task With_redis_stopped_requests_are_served_from_postgres_and_return_to_redis_once_it_is_back()
    {
        using var client = api.Client();
        var first = await client.GetAsync($"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(1))}");
        Assert.Equal("hit", first.Headers.GetValues("X-Cache").Single());
        var metrics = api.Services.GetRequiredService<ApiMetrics>();
        var fallbacks = metrics.Fallbacks;

        api.RedisServer.Kill();
        for (var i = 2; i <= 6; i++)
        {
            var response = await client.GetAsync($"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(i))}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("miss", response.Headers.GetValues("X-Cache").Single());
            var json = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(ApiTestData.Isdn(i), json.GetProperty("isdn").GetString());
        }
        var profile = await client.GetAsync($"/api/v1/profiles/{Paths.Escape(ApiTestData.Isdn(7))}");
        Assert.Equal(HttpStatusCode.OK, profile.StatusCode);
        var page = await client.GetFromJsonAsync<JsonElement>("/api/v1/risk/LOW/subscribers?limit=10");
        Assert.Equal(40, page.GetProperty("total").GetInt64());
        Assert.True(metrics.Fallbacks - fallbacks >= 5);
        var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Degraded", (await ready.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());

        // Back (empty, as a restarted cache is): the next reads miss, fill, then hit again.
        api.RedisServer.Start();
        await PrivateRedisFactory.HitsAgainAsync(client, $"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(8))}");
        var healthy = await client.GetFromJsonAsync<JsonElement>("/health/ready");
        Assert.Equal("Healthy", healthy.GetProperty("status").GetString());
    }
}

/// A Redis that answers too late: its clients paused (CLIENT PAUSE), so commands wait
/// unanswered, as on an overloaded server; the API's budget is 200 ms.
public sealed class SlowRedisFactory() : PrivateRedisFactory(20, ("Redis:TimeoutMs", "200"));

public sealed class SlowRedisTests(SlowRedisFactory api) : IClassFixture<SlowRedisFactory>
{
    [Fact]
    public async Task With_redis_slow_requests_are_served_from_postgres_and_return_to_redis_after()
    {
        using var client = api.Client();
        string Path(int i) => $"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(i))}";
        Assert.Equal("hit", (await client.GetAsync(Path(1))).Headers.GetValues("X-Cache").Single());

        // Every client's commands wait 5 s; the API's budget is 200 ms.
        await api.Redis.Connection.GetServers()[0].ExecuteAsync("CLIENT", "PAUSE", "5000", "ALL");
        var response = await client.GetAsync(Path(2));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("miss", response.Headers.GetValues("X-Cache").Single());
        Assert.Contains("pg;dur=", response.Headers.GetValues("Server-Timing").Single(), StringComparison.Ordinal);
        Assert.Equal(ApiTestData.Isdn(2), (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("isdn").GetString());

        // Once the pause ends the API reads Redis again by itself.
        await PrivateRedisFactory.HitsAgainAsync(client, Path(3));
    }
}

/// PostgreSQL unreachable (a closed port); Redis holds subscribers 1–10.
public sealed class PostgresDownFactory : ApiFactory
{
    protected override string? PostgresConnectionString =>
        $"Host=127.0.0.1;Port={ClosedPort};Username=postgres;Database=ut360;Timeout=2";

    static readonly int ClosedPort = PrivateRedis.FreePort();

    protected override Task SeedAsync() => ApiTestData.SyncAsync(Redis.Db, Redis.Keys, [.. Enumerable.Range(1, 10)]);
}

public sealed class PostgresDownTests(PostgresDownFactory api) : IClassFixture<PostgresDownFactory>
{
    [Fact]
    public async Task Redis_hits_are_still_served()
    {
        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(1))}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hit", response.Headers.GetValues("X-Cache").Single());
        var profile = await client.GetAsync($"/api/v1/profiles/{Paths.Escape(ApiTestData.Isdn(2))}");
        Assert.Equal(HttpStatusCode.OK, profile.StatusCode);
        var bulk = await client.PostAsJsonAsync("/api/v1/recommendations/bulk", new { isdns = new[] { ApiTestData.Isdn(3), ApiTestData.Isdn(4) } });
        Assert.Equal(HttpStatusCode.OK, bulk.StatusCode);
        var page = await client.GetAsync("/api/v1/risk/LOW/subscribers?details=true");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    [Fact]
    public async Task Misses_are_503_problems_with_retry_after()
    {
        using var client = api.Client();
        var response = await client.GetAsync($"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(11))}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter is not null);
        var analytics = await client.GetAsync("/api/v1/analytics/services");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, analytics.StatusCode);
        var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }
}

/// The near cache on, as deployed, with a quick meta check.
public sealed class NearRedisRestartFactory() : PrivateRedisFactory(10, ("NearCache:PollMs", "100"))
{
    protected override bool NearCache => true;
}

public sealed class NearRedisRestartTests(NearRedisRestartFactory api) : IClassFixture<NearRedisRestartFactory>
{
    [Fact]
    public async Task A_redis_restarted_empty_leaves_the_near_cache_serving_without_a_postgres_read()
    {
        using var client = api.Client();
        var path = $"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(3))}";
        await Poll.UntilAsync(async () =>
            (await client.GetAsync(path)).Headers.GetValues("Server-Timing").Single().StartsWith("near", StringComparison.Ordinal),
            $"{path} served from the near cache");
        var metrics = api.Services.GetRequiredService<ApiMetrics>();
        var reads = metrics.PostgresReads;

        api.RedisServer.Kill();
        api.RedisServer.Start();
        // Back and checked: the API reconnected, and its meta check has run against the empty
        // server more than once (the check is the only HMGET this test lets the API make).
        await Poll.UntilAsync(async () =>
            (await client.GetFromJsonAsync<JsonElement>("/health/ready")).GetProperty("status").GetString() == "Healthy",
            "the API reconnected to Redis");
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(api.RedisServer.ConnectionString);
        await Poll.UntilAsync(async () =>
        {
            var info = await admin.GetServers()[0].InfoRawAsync("commandstats") ?? "";
            var line = info.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_hmget:calls=", StringComparison.Ordinal));
            return line is not null && int.Parse(line["cmdstat_hmget:calls=".Length..line.IndexOf(',', StringComparison.Ordinal)],
                System.Globalization.CultureInfo.InvariantCulture) >= 3;
        }, "the meta check ran against the restarted Redis");

        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("near", response.Headers.GetValues("Server-Timing").Single());
        Assert.Equal(reads, metrics.PostgresReads);
    }
}
