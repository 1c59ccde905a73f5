using System.Globalization;
using StackExchange.Redis;
using Ut360.Data.Loading;
using Ut360.Data.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using Ut360.Tests.Load;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

public sealed class SyncRefreshTests
{
    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_reader_polling_during_a_sync_sees_only_complete_indexes_and_agreeing_meta(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 3000);
        await FullAsync(db, redis);
        var k = redis.Keys;
        RedisKey[] indexes = [k.ServiceIndex("EasyCredit"), k.ServiceIndex("MBFG"), k.RiskIndex("LOW"), k.ClusterIndex(1)];
        var before = await CardsAsync(redis, indexes);

        // The next version: 200 subscribers gone, 300 moved to other indexes.
        await DeleteAsync(db, "id <= 200");
        await ExecAsync(db, """
            UPDATE recommendations SET service_type = 'MBFG', bad_debt_risk = 'MEDIUM', cluster_group = 1, updated_at = now()
             WHERE id BETWEEN 201 AND 500 AND service_type = 'EasyCredit'
            """);
        var after = new[]
        {
            (await CountsAsync(db, "service_type"))["EasyCredit"], (await CountsAsync(db, "service_type"))["MBFG"],
            (await CountsAsync(db, "bad_debt_risk"))["LOW"], (await CountsAsync(db, "cluster_group"))["1"],
        };
        Assert.NotEqual(before, after);

        var sync = Task.Run(() => FullAsync(db, redis));
        var standalone = target == "standalone";
        var polls = 0;
        // Bounded: the loop ends with the sync (or after a generous number of polls).
        while (!sync.IsCompleted && polls < 200_000)
        {
            polls++;
            long[] cards;
            long metaEasyCredit;
            if (standalone)
            {
                // One MULTI so the reader's snapshot is itself atomic: indexes and meta must agree.
                var tx = redis.Db.CreateTransaction();
                var z1 = tx.SortedSetLengthAsync(indexes[0]);
                var z2 = tx.SortedSetLengthAsync(indexes[1]);
                var s1 = tx.SetLengthAsync(indexes[2]);
                var s2 = tx.SetLengthAsync(indexes[3]);
                var m = tx.HashGetAsync(k.MetaStats, "total_easycredit");
                Assert.True(await tx.ExecuteAsync());
                cards = [await z1, await z2, await s1, await s2];
                metaEasyCredit = (long)await m;
                Assert.Equal(cards[0], metaEasyCredit);
            }
            else
            {
                cards = await CardsAsync(redis, indexes);
                metaEasyCredit = (long)await redis.Db.HashGetAsync(k.MetaStats, "total_easycredit");
                Assert.True(metaEasyCredit == before[0] || metaEasyCredit == after[0], $"meta total_easycredit {metaEasyCredit}");
            }
            for (var i = 0; i < cards.Length; i++)
                Assert.True(cards[i] == before[i] || cards[i] == after[i],
                    $"poll {polls}: {indexes[i]} has {cards[i]} members, neither the old {before[i]} nor the new {after[i]}");
        }
        var result = await sync;
        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.True(polls > 0);
        Assert.Equal(after, await CardsAsync(redis, indexes));
    }

    static async Task<long[]> CardsAsync(TestRedis redis, RedisKey[] indexes) =>
    [
        await redis.Db.SortedSetLengthAsync(indexes[0]), await redis.Db.SortedSetLengthAsync(indexes[1]),
        await redis.Db.SetLengthAsync(indexes[2]), await redis.Db.SetLengthAsync(indexes[3]),
    ];

    [Theory]
    [InlineData("standalone", "writing")]
    [InlineData("standalone", "publishing")]
    [InlineData("standalone", "deleting")]
    [ClusterData]
    public async Task A_sync_killed_midway_leaves_the_previous_version_readable_and_the_next_one_converges(string target, string killAt = "writing")
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 3000);
        await FullAsync(db, redis);
        var k = redis.Keys;
        var before = await DumpAsync(redis);
        var gone = await IsdnsAsync(db, "id <= 100");
        await DeleteAsync(db, "id <= 100");
        await ExecAsync(db, "UPDATE recommendations SET cluster_group = 5, updated_at = now() WHERE id BETWEEN 101 AND 300");

        using var cts = new CancellationTokenSource();
        var progress = new KillAt(killAt, cts);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => FullAsync(db, redis, progress, cts.Token));
        Assert.True(progress.Fired);

        // Killed before publishing, the previous version is still what readers see: indexes and
        // meta untouched. Killed while deleting, the new version is published and the gone
        // subscribers' keys wait in the pending set for the next sync.
        var during = await DumpAsync(redis);
        if (killAt == "deleting")
        {
            Assert.True(during.ContainsKey("NS:idx:cluster:5"));
            Assert.True(await redis.Db.KeyExistsAsync(k.Namespace + ":sync:gone"));
        }
        else foreach (var key in before.Keys.Where(x => x.Contains(":idx:", StringComparison.Ordinal) || x.EndsWith(":meta:stats", StringComparison.Ordinal)))
            Assert.Equal(before[key], during[key]);
        Assert.Equal(killAt == "deleting", during.ContainsKey("NS:idx:cluster:5"));
        Assert.Equal("failed", (await SyncRuns.HistoryAsync(db.DataSource, 1, default).FirstAsync()).Outcome);

        var result = await FullAsync(db, redis);

        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.Empty(await KeysAsync(redis, "{" + k.Namespace + ":*"));
        Assert.False(await redis.Db.KeyExistsAsync(k.Namespace + ":sync:gone"));
        foreach (var i in gone.Take(10))
        {
            Assert.False(await redis.Db.KeyExistsAsync(k.Rec(i)));
            // Listed for an hour, so a late cache-aside write-back cannot bring it back.
            Assert.True(await redis.Db.SetContainsAsync(k.SyncDeleted, i));
        }
        Assert.InRange((await redis.Db.KeyTimeToLiveAsync(k.SyncDeleted))!.Value, TimeSpan.FromMinutes(59), RedisKeys.DeletedTtl);
        Assert.Equal(200, await redis.Db.SetLengthAsync(k.ClusterIndex(5)));
        Assert.Equal("2900", (string?)await redis.Db.HashGetAsync(k.MetaStats, "total_subscribers"));
        // Converged: the same as a sync into an empty namespace.
        await using var fresh = await RedisAsync(target);
        await FullAsync(db, fresh);
        AssertSameDump(await DumpAsync(fresh), await DumpAsync(redis));
    }

    /// Cancels the sync when it reaches a phase (after some rows when writing).
    sealed class KillAt(string phase, CancellationTokenSource cts) : IProgress<SyncProgress>
    {
        public bool Fired { get; private set; }

        public void Report(SyncProgress value)
        {
            if (value.Phase == phase && (phase != "writing" || value.Done >= 1000))
            {
                Fired = true;
                cts.Cancel();
            }
        }
    }

    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task An_incremental_sync_pushes_only_the_changed_subscribers_and_moves_them_between_indexes(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 500);
        await FullAsync(db, redis);
        var k = redis.Keys;

        // An upsert load with the change set it records (load_changes).
        var loadId = await ScalarAsync<long>(db, """
            INSERT INTO data_loads (data_version, mode, source_dir, source_format, outcome, started_at)
            VALUES ('v2', 'upsert', 'test', 'csv', 'succeeded', clock_timestamp()) RETURNING id
            """);
        await ExecAsync(db, $"""
            UPDATE recommendations SET service_type = CASE service_type WHEN 'MBFG' THEN 'EasyCredit' ELSE 'MBFG' END,
                   advance_amount = 99000, cluster_group = 6, updated_at = now()
             WHERE id <= 10;
            UPDATE subscriber_360_profiles SET classification_reason = 'Đã thay đổi', updated_at = now() WHERE recommendation_id <= 12;
            INSERT INTO load_changes (load_id, isdn, deleted) SELECT {loadId}, isdn, false FROM recommendations WHERE id <= 12;
            """);
        var changed = await IsdnsAsync(db, "id <= 10");
        var untouched = (await IsdnsAsync(db, "id = 100"))[0];
        var untouchedTtl = await redis.Db.KeyTimeToLiveAsync(k.Rec(untouched));

        var result = await Engine(db, redis).RunAsync(
            new SyncRequest { Kind = SyncKind.Incremental, ChangedSince = loadId.ToString(CultureInfo.InvariantCulture) }, null, default);

        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        // The load's change set: 10 recommendations and 12 profiles changed, 12 subscribers pushed.
        Assert.Equal(12, result.Subscribers);
        Assert.Equal(12, result.Profiles);
        Assert.Equal(10, result.IndexMoves);
        foreach (var i in changed)
        {
            Assert.Equal("99000", (string?)await redis.Db.HashGetAsync(k.Rec(i), "advance_amount"));
            Assert.True(await redis.Db.SetContainsAsync(k.ClusterIndex(6), i));
            var service = (string)(await redis.Db.HashGetAsync(k.Rec(i), "service_type"))!;
            var other = service == "MBFG" ? "EasyCredit" : "MBFG";
            Assert.NotNull(await redis.Db.SortedSetScoreAsync(k.ServiceIndex(service), i));
            Assert.Null(await redis.Db.SortedSetScoreAsync(k.ServiceIndex(other), i));
        }
        Assert.Contains("Đã thay đổi", (string?)await redis.Db.HashGetAsync(k.Profile(changed[0]), "insights"), StringComparison.Ordinal);
        // Untouched subscribers were not rewritten (their TTL was not renewed).
        Assert.True(await redis.Db.KeyTimeToLiveAsync(k.Rec(untouched)) <= untouchedTtl);
        foreach (var (service, n) in await CountsAsync(db, "service_type"))
        {
            Assert.Equal(n, await redis.Db.SortedSetLengthAsync(k.ServiceIndex(service)));
            Assert.Equal(n.ToString(CultureInfo.InvariantCulture), (string?)await redis.Db.HashGetAsync(k.MetaStats, "total_" + service.ToLowerInvariant()));
        }
        Assert.Equal("10", (string?)await redis.Db.HashGetAsync(k.MetaStats, "total_cluster_6"));
        Assert.Equal("v2", (string?)await redis.Db.HashGetAsync(k.MetaStats, "data_version"));

        // The end state equals a full sync's.
        await using var fresh = await RedisAsync(target);
        await FullAsync(db, fresh);
        AssertSameDump(await DumpAsync(fresh), await DumpAsync(redis));
    }

    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_dual_write_ends_where_load_and_sync_end_and_a_redis_failure_leaves_a_needs_sync_mark_the_next_sync_clears(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 300);
        await FullAsync(db, redis);

        // A load (rows changed, one deleted, two added) committed to PostgreSQL, then its dual write.
        var loadId = await ChangeAsLoadAsync(db, "v2", 1);
        var dual = await DualWrite.ApplyAsync(db.DataSource, redis.Connection, redis.Keys, loadId, null, default);
        Assert.Equal(SyncOutcome.Succeeded, dual.Outcome);
        Assert.Equal(SyncKind.DualWrite, (await SyncRuns.HistoryAsync(db.DataSource, 1, default).FirstAsync()).Kind);

        await using var fresh = await RedisAsync(target);
        await FullAsync(db, fresh);
        AssertSameDump(await DumpAsync(fresh), await DumpAsync(redis));

        // Redis down during the next load's dual write: PostgreSQL keeps the load, marked needs_sync.
        var load2 = await ChangeAsLoadAsync(db, "v3", 2);
        await using (var down = await ConnectionMultiplexer.ConnectAsync("127.0.0.1:1,abortConnect=false,connectTimeout=200,syncTimeout=500,asyncTimeout=500"))
        {
            var failed = await DualWrite.ApplyAsync(db.DataSource, down, redis.Keys, load2, null, default);
            Assert.Equal(SyncOutcome.Failed, failed.Outcome);
        }
        Assert.True(await ScalarAsync<bool>(db, $"SELECT needs_sync FROM data_loads WHERE id = {load2}"));
        Assert.Equal(302, await ScalarAsync<long>(db, "SELECT count(*) FROM recommendations"));

        // An incremental sync from a later time still repairs the load that needs it.
        var result = await Engine(db, redis).RunAsync(
            new SyncRequest { Kind = SyncKind.Incremental, ChangedSince = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture) }, null, default);
        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.False(await ScalarAsync<bool>(db, $"SELECT needs_sync FROM data_loads WHERE id = {load2}"));
        await using var fresh2 = await RedisAsync(target);
        await FullAsync(db, fresh2);
        AssertSameDump(await DumpAsync(fresh2), await DumpAsync(redis));
    }

    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_fresh_load_after_a_wipe_records_one_marker_and_its_dual_write_runs_as_a_full_sync(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 300);
        await FullAsync(db, redis);
        var wiped = await IsdnsAsync(db, "id <= 3");
        await ExecAsync(db, "TRUNCATE recommendations, subscriber_360_profiles, subscriber_monthly_arpu");

        var dir = Path.Combine(Path.GetTempPath(), "ut360-fresh-load-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var load = await new DataLoader(db.DataSource).LoadAsync(new LoadOptions
            {
                Directory = UpstreamFixture.Create(40).WriteTo(dir, "parquet"), RejectsFile = Path.Combine(dir, "rejects.csv"),
            });
            Assert.Equal(40, load.ChangedSubscribers);
            Assert.Equal(40, load.ChangedIsdns.Count);
            // Its change set is one marker row, not a row per subscriber.
            Assert.Equal(LoadChanges.Everything, await ScalarAsync<string>(db, $"SELECT string_agg(isdn, ',') FROM load_changes WHERE load_id = {load.LoadId}"));

            var dual = await DualWrite.ApplyAsync(db.DataSource, redis.Connection, redis.Keys, load.LoadId, null, default);

            Assert.Equal(SyncOutcome.Succeeded, dual.Outcome);
            Assert.Contains(dual.Warnings, w => w.Contains("ran a full sync", StringComparison.Ordinal));
            Assert.Equal(40, dual.Subscribers);
            // The full sync also removed the subscribers of the wiped data.
            foreach (var isdn in wiped)
                Assert.False(await redis.Db.KeyExistsAsync(redis.Keys.Rec(isdn)));
            Assert.False(await ScalarAsync<bool>(db, $"SELECT needs_sync FROM data_loads WHERE id = {load.LoadId}"));
            await using var fresh = await RedisAsync(target);
            await FullAsync(db, fresh);
            AssertSameDump(await DumpAsync(fresh), await DumpAsync(redis));
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    // What an upsert load does to the tables, with its data_loads row and its change set.
    static async Task<long> ChangeAsLoadAsync(TestDatabase db, string version, int round)
    {
        var loadId = await ScalarAsync<long>(db, $"""
            INSERT INTO data_loads (data_version, mode, source_dir, source_format, outcome, started_at)
            VALUES ('{version}', 'upsert', 'test', 'csv', 'running', clock_timestamp()) RETURNING id
            """);
        var first = round * 20;
        await ExecAsync(db, $"""
            UPDATE recommendations SET bad_debt_risk = 'MEDIUM', customer_value_score = 99, priority_score = round(99 * advance_readiness_score / 100, 2),
                   cluster_group = 3, updated_at = now()
             WHERE id BETWEEN {first} AND {first + 9};
            UPDATE subscriber_360_profiles SET cluster_group = 3, updated_at = now() WHERE recommendation_id BETWEEN {first} AND {first + 9};
            INSERT INTO recommendations (isdn, subscriber_type, service_type, advance_amount, revenue_per_advance, cluster_group,
                   bad_debt_risk, customer_value_score, advance_readiness_score, priority_score, recommendation_date)
            VALUES ('new-{version}-a==', 'PRE', 'MBFG', 20000, 6000, 2, 'LOW', 50, 50, 25, DATE '2025-10-22'),
                   ('new-{version}-b==', 'POS', 'EasyCredit', 30000, 9000, NULL, 'HIGH', 80, 90, 72, DATE '2025-10-22');
            INSERT INTO subscriber_360_profiles (isdn, subscriber_type, service_type, profile_date, revenue_potential)
            VALUES ('new-{version}-a==', 'PRE', 'MBFG', DATE '2025-10-22', 1000);
            INSERT INTO load_changes (load_id, isdn, deleted)
            SELECT {loadId}, isdn, false FROM recommendations WHERE id BETWEEN {first} AND {first + 9} OR isdn LIKE 'new-{version}-%'
            UNION ALL SELECT {loadId}, isdn, true FROM recommendations WHERE id = {first + 15};
            UPDATE data_loads SET outcome = 'succeeded', needs_sync = true, finished_at = now() WHERE id = {loadId};
            """);
        await DeleteAsync(db, $"id = {first + 15}");
        return loadId;
    }
}
