using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

/// Issue 16, items 2 and 6: the service starts a full sync by itself when a run stopped
/// mid-write or Redis lost its data, without anyone running a command.
public sealed class SyncWatchdogTests
{
    static async Task<(SyncWatchdog Watchdog, ServiceProvider Services)> StartAsync(TestDatabase db, TestRedis redis)
    {
        var options = Options.Create(new SyncOptions { Namespace = redis.Keys.Namespace, WatchSeconds = 1 });
        var services = new ServiceCollection()
            .AddSingleton(new SyncService(db.DataSource, redis.Connection, options, NullLogger<SyncService>.Instance))
            .BuildServiceProvider();
        var watchdog = new SyncWatchdog(services, options, NullLogger<SyncWatchdog>.Instance);
        await watchdog.StartAsync(CancellationToken.None);
        return (watchdog, services);
    }

    static Task<long> WatchdogRunsAsync(TestDatabase db) =>
        ScalarAsync<long>(db, "SELECT count(*) FROM sync_runs WHERE trigger = 'watchdog' AND outcome = 'succeeded'");

    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task An_emptied_redis_is_refilled_by_one_full_sync_without_a_command(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 300);
        await FullAsync(db, redis);
        var expected = await DumpAsync(redis);
        var (watchdog, services) = await StartAsync(db, redis);
        await using var _ = services;
        try
        {
            // Nothing to do while Redis holds the version the last sync wrote.
            await Task.Delay(TimeSpan.FromSeconds(2.5));
            Assert.Equal(0, await WatchdogRunsAsync(db));

            // Every key of the namespace gone, as after a restart without persistence.
            foreach (var key in await KeysAsync(redis, "*" + redis.Keys.Namespace + ":*"))
                await redis.Db.KeyDeleteAsync(key);
            await Poll.UntilAsync(async () => await WatchdogRunsAsync(db) == 1, "the watchdog refilled Redis", 60_000);
            AssertSameDump(expected, await DumpAsync(redis));
            await Task.Delay(TimeSpan.FromSeconds(2.5));
            Assert.Equal(1, await WatchdogRunsAsync(db));
        }
        finally
        {
            await watchdog.StopAsync(CancellationToken.None);
        }
    }

    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_sync_killed_before_it_publishes_is_followed_by_a_full_sync_that_publishes_the_new_version(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        var k = redis.Keys;
        await FillAsync(db, 3000);
        await FullAsync(db, redis);
        var (watchdog, services) = await StartAsync(db, redis);
        await using var _ = services;
        try
        {
            await ExecAsync(db, "UPDATE recommendations SET cluster_group = 5, updated_at = now() WHERE id BETWEEN 101 AND 300");
            await SyncChild.KillSyncBeforePublishAsync(db, redis);

            // Records of the new version under the indexes of the old one until a sync publishes.
            await Poll.UntilAsync(async () => await WatchdogRunsAsync(db) == 1, "the watchdog ran a full sync", 60_000);
            Assert.Equal(200, await redis.Db.SetLengthAsync(k.ClusterIndex(5)));
            Assert.False(await redis.Db.KeyExistsAsync(k.SyncWriting));
            Assert.Equal(0, await ScalarAsync<long>(db, "SELECT count(*) FROM sync_runs WHERE outcome = 'running'"));
            await using var fresh = await RedisAsync(target);
            await FullAsync(db, fresh);
            AssertSameDump(await DumpAsync(fresh), await DumpAsync(redis));
        }
        finally
        {
            await watchdog.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_watchdog_whose_own_syncs_kept_failing_waits_longer_before_the_next()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync("standalone");
        await FillAsync(db, 50);
        await FullAsync(db, redis);
        // Three failed watchdog runs just now: the next waits 1 s × 2^3.
        await ExecAsync(db, $"""
            INSERT INTO sync_runs (kind, trigger, namespace, outcome, finished_at)
            SELECT 'full', 'watchdog', '{redis.Keys.Namespace}', 'failed', now() FROM generate_series(1, 3)
            """);
        await redis.Db.StringSetAsync(redis.Keys.SyncWriting, "1");
        var (watchdog, services) = await StartAsync(db, redis);
        await using var _ = services;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.Equal(0, await WatchdogRunsAsync(db));
            await Poll.UntilAsync(async () => await WatchdogRunsAsync(db) == 1, "the watchdog retried after its backoff", 60_000);
            Assert.False(await redis.Db.KeyExistsAsync(redis.Keys.SyncWriting));
        }
        finally
        {
            await watchdog.StopAsync(CancellationToken.None);
        }
    }
}
