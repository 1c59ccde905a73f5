using System.Diagnostics;
using System.Net;
using StackExchange.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using Ut360.Tests.Sync;
using Xunit.Abstractions;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Api;

/// One API instance as deployed (near cache, scheduler and watchdog on) against a Redis of the
/// test's own; a second instance shares the first one's database and namespace when
/// `ofDatabase` is given.
sealed class RestartApi(string redis, RestartApi? ofDatabase = null) : SyncedApiFactory(300)
{
    protected override string? RedisConnectionString => redis + ",allowAdmin=true";
    protected override string? PostgresConnectionString => ofDatabase?.Db.ConnectionString;
    protected override bool NearCache => true;

    protected override IEnumerable<(string Key, string Value)> ExtraSettings
    {
        get
        {
            yield return ("Sync:WatchSeconds", "1");
            yield return ("Redis:BreakerOpenMs", "200");
            if (ofDatabase is not null)
                yield return ("Redis:Namespace", ofDatabase.Redis.Keys.Namespace);
        }
    }

    // The second instance serves the first one's data.
    protected override Task SeedAsync() => ofDatabase is null ? base.SeedAsync() : Task.CompletedTask;
}

/// Issue 16, item 6: Redis restarts under two running API instances, and the service refills
/// it by itself with one full sync (the advisory lock lets one instance run it):
///  - without persistence it comes back empty (no meta, no records);
///  - with persistence it comes back with a snapshot (RDB) that may be older than the last
///    sync. A new run_id is all the service can see of that, so it runs a full sync then too:
///    the safe answer, since nothing tells a snapshot taken mid-sync or before the last publish
///    from an up-to-date one.
/// On a Redis Cluster of the test's own, one master restarts (its run_id changes while the
/// meta, on another master, is still there).
public sealed class RedisRestartTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("standalone", false)]
    [InlineData("standalone", true)]
    [InlineData("cluster", false)]
    [InlineData("cluster", true)]
    public async Task A_restarted_redis_is_refilled_by_one_full_sync_across_two_api_instances(string target, bool persistence)
    {
        var dir = Directory.CreateTempSubdirectory("ut360-restart-");
        var servers = new List<RedisServer>();
        var factories = new List<RestartApi>();
        try
        {
            if (target == "cluster")
                servers.AddRange(await OwnCluster.StartAsync(dir.FullName));
            else
                servers.Add(await RedisServer.StartAsync("--dir", dir.FullName));
            var seeds = string.Join(",", servers.Select(s => s.ConnectionString));
            var first = new RestartApi(seeds);
            await ((IAsyncLifetime)first).InitializeAsync();
            factories.Add(first);
            var second = new RestartApi(seeds, first);
            factories.Insert(0, second);
            await ((IAsyncLifetime)second).InitializeAsync();
            var (db, redis) = (first.Db, first.Redis);
            using var client = first.Client();
            var someone = (await IsdnsAsync(db, "id = 7"))[0];
            var path = $"/api/v1/recommendations/{Paths.Escape(someone)}";
            Assert.Equal("hit", (await client.GetAsync(path)).Headers.GetValues("X-Cache").Single());

            if (persistence)
            {
                // The snapshot holds this version; the data then moves on and is synced again.
                foreach (var server in redis.Connection.GetServers().Where(s => !s.IsReplica))
                    await server.ExecuteAsync("SAVE");
                await ExecAsync(db, "UPDATE recommendations SET cluster_group = 5, updated_at = now() WHERE id BETWEEN 1 AND 40");
                Assert.Equal(SyncOutcome.Succeeded, (await FullAsync(db, redis)).Outcome);
            }
            var expected = await DumpAsync(redis);
            Assert.Equal(0, await WatchdogRunsAsync(db));

            var clock = Stopwatch.StartNew();
            await servers[^1].RestartAsync();
            await Poll.UntilAsync(async () => await WatchdogRunsAsync(db, SyncOutcome.Succeeded) == 1, "a watchdog refilled Redis", 60_000);
            output.WriteLine($"{target}, persistence {persistence}: refilled {clock.Elapsed.TotalSeconds:0.0} s after the restart");

            await Poll.UntilAsync(() => Task.FromResult(redis.Connection.GetServers().All(s => s.IsConnected)), "the test's connection is back", 30_000);
            AssertSameDump(expected, await DumpAsync(redis));
            Assert.Equal(300, (await KeysAsync(redis, redis.Keys.Rec("*").ToString())).Count);
            await PrivateRedisFactory.HitsAgainAsync(client, path);
            using (var other = second.Client())
                Assert.Equal(HttpStatusCode.OK, (await other.GetAsync(path)).StatusCode);

            // Both instances keep watching; the recorded run_id tells them the server is refilled.
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.Equal(1, await WatchdogRunsAsync(db));
        }
        finally
        {
            foreach (var factory in factories)
                await ((IAsyncLifetime)factory).DisposeAsync();
            foreach (var server in servers)
                await server.DisposeAsync();
            dir.Delete(recursive: true);
        }
    }

    static Task<long> WatchdogRunsAsync(TestDatabase db, string? outcome = null) => ScalarAsync<long>(db,
        "SELECT count(*) FROM sync_runs WHERE trigger = 'watchdog'" + (outcome is null ? "" : $" AND outcome = '{outcome}'"));
}

/// Three masters of the test's own (no TLS), slots split in three; each keeps its node file and
/// RDB in a folder of its own, so a restarted node rejoins with its slots.
static class OwnCluster
{
    public static async Task<List<RedisServer>> StartAsync(string dir)
    {
        var nodes = new List<RedisServer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var home = Directory.CreateDirectory(Path.Combine(dir, $"node-{i}")).FullName;
                nodes.Add(await RedisServer.StartAsync("--dir", home, "--cluster-enabled", "yes",
                    "--cluster-config-file", Path.Combine(home, "nodes.conf"),
                    "--cluster-port", PrivateRedis.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
            await JoinAsync(nodes, n => ConfigurationOptions.Parse(n.ConnectionString + ",allowAdmin=true"));
            return nodes;
        }
        catch
        {
            foreach (var node in nodes)
                await node.DisposeAsync();
            throw;
        }
    }

    /// Slots split in three over the nodes, the others introduced to the first (CLUSTER MEET on
    /// its bus port), then waits until every node reports the cluster ok.
    public static async Task JoinAsync(List<RedisServer> nodes, Func<RedisServer, ConfigurationOptions> options)
    {
        var connections = new List<ConnectionMultiplexer>();
        try
        {
            foreach (var node in nodes)
                connections.Add(await ConnectionMultiplexer.ConnectAsync(options(node)));
            var servers = connections.Select((c, i) => c.GetServer(nodes[i].ConnectionString)).ToList();
            int[] bounds = [0, 5461, 10923, 16384];
            for (var i = 0; i < 3; i++)
                await servers[i].ExecuteAsync("CLUSTER", "ADDSLOTSRANGE", bounds[i], bounds[i + 1] - 1);
            var busPort = (int)(await servers[0].ExecuteAsync("CONFIG", "GET", "cluster-port")).ToDictionary()["cluster-port"];
            for (var i = 1; i < 3; i++)
                await servers[i].ExecuteAsync("CLUSTER", "MEET", "127.0.0.1", nodes[0].Port, busPort);
            await Poll.UntilAsync(async () =>
            {
                foreach (var server in servers)
                    if (!((string?)await server.ExecuteAsync("CLUSTER", "INFO"))!.Contains("cluster_state:ok", StringComparison.Ordinal))
                        return false;
                return true;
            }, "the cluster reaches cluster_state:ok", 30_000);
        }
        finally
        {
            foreach (var c in connections)
                await c.DisposeAsync();
        }
    }
}
