using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Api;

/// The API as deployed (near cache on, production Redis budget and circuit) against a
/// redis-server of its own that the tests stall, plus one background service that fails: the
/// process must go on answering whatever its background work meets.
public sealed class StallFactory() : PrivateRedisFactory(50)
{
    protected override bool NearCache => true;

    // Production settings: no shortened circuit, no shortened meta poll. Only the per-key rate
    // limit is lifted: four clients answered from the near cache go past 20,000 requests a
    // second on an idle machine, and a 429 would hide whether the stall was survived.
    protected override IEnumerable<(string Key, string Value)> ExtraSettings =>
        [("Api:RateLimitPerSecond", "1000000"), ("Api:RateLimitBurst", "2000000")];

    public static readonly TaskCompletionSource Failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(s => s.AddHostedService<FailingService>());
    }

    /// Background work added later that fails with something nobody expected.
    sealed class FailingService : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await Task.Yield();
            Failed.TrySetResult();
            throw new InvalidOperationException("a background fault nobody planned for");
        }
    }
}

public sealed class StallTests(StallFactory api) : IClassFixture<StallFactory>
{
    static string RecPath(int i) => $"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(i))}";
    static string ProfilePath(int i) => $"/api/v1/profiles/{Paths.Escape(ApiTestData.Isdn(i))}";

    bool Stopping => api.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested;

    /// Four clients read records and profiles of subscribers 1–50 (some near, some not) for
    /// `window`; returns how many answers of each status they got.
    async Task<IReadOnlyDictionary<HttpStatusCode, int>> LoadAsync(TimeSpan window)
    {
        var statuses = new ConcurrentDictionary<HttpStatusCode, int>();
        var until = DateTime.UtcNow + window;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async worker =>
        {
            using var client = api.Client();
            client.Timeout = TimeSpan.FromSeconds(30);
            for (var i = worker; DateTime.UtcNow < until; i++)
            {
                var id = i % 50 + 1;
                using var response = await client.GetAsync(i % 3 == 0 ? ProfilePath(id) : RecPath(id));
                statuses.AddOrUpdate(response.StatusCode, 1, (_, n) => n + 1);
            }
        }));
        return statuses;
    }

    static void AllAnswered(IReadOnlyDictionary<HttpStatusCode, int> statuses, string what)
    {
        Assert.True(statuses.TryGetValue(HttpStatusCode.OK, out var ok) && ok > 0, $"{what}: no answers");
        Assert.True(statuses.Keys.All(s => s == HttpStatusCode.OK),
            $"{what}: {string.Join(", ", statuses.Select(s => $"{(int)s.Key}×{s.Value}"))}");
    }

    [Fact]
    public async Task Redis_stalls_of_one_to_five_seconds_and_one_that_does_not_end_leave_the_process_answering()
    {
        AllAnswered(await LoadAsync(TimeSpan.FromSeconds(1)), "warm-up");
        foreach (var seconds in new[] { 1, 3, 5 })
        {
            // Each stall outlives several meta checks (1 s apart) and many 250 ms budgets.
            await api.Redis.Connection.GetServers()[0].ExecuteAsync("CLIENT", "PAUSE", (seconds * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture), "ALL");
            AllAnswered(await LoadAsync(TimeSpan.FromSeconds(seconds + 1)), $"{seconds} s stall");
            Assert.False(Stopping, $"the host began stopping after a {seconds} s stall");
        }

        // A stall that ends only when the server dies, like a link that drops every packet.
        await api.Redis.Connection.GetServers()[0].ExecuteAsync("CLIENT", "PAUSE", "600000", "ALL");
        AllAnswered(await LoadAsync(TimeSpan.FromSeconds(4)), "a stall that does not end");
        Assert.False(Stopping, "the host began stopping during a stall that does not end");

        api.RedisServer.Kill();
        api.RedisServer.Start();
        await PrivateRedisFactory.HitsAgainAsync(api.Client(), RecPath(9));
        Assert.False(Stopping, "the host began stopping after Redis came back");
    }

    [Fact]
    public async Task A_background_service_that_throws_does_not_stop_the_host()
    {
        await StallFactory.Failed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        using var client = api.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(RecPath(1))).StatusCode);
        Assert.False(Stopping, "a failed background service stopped the host");
    }
}
