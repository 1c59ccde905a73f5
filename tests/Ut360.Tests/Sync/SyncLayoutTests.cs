using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;
using Ut360.Data.Domain;
using Ut360.Data.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

public sealed class SyncLayoutTests
{
    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_full_sync_writes_every_structure_of_the_design_with_its_type_ttl_and_encoding(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 400);

        var result = await FullAsync(db, redis);

        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.Equal(400, result.Subscribers);
        Assert.Equal(800, result.KeysWritten);
        var r = redis.Db;
        var k = redis.Keys;

        // A: the rec hash, 14 fields, plain decimal numbers, TTL 7 days, listpack.
        var isdn = (await IsdnsAsync(db, "id = 42"))[0];
        Assert.Equal(RedisType.Hash, await r.KeyTypeAsync(k.Rec(isdn)));
        var rec = (await r.HashGetAllAsync(k.Rec(isdn))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.Equal(RecordCodec.RecFields.Order(), rec.Keys.Order());
        await using (var cmd = db.DataSource.CreateCommand(
            "SELECT service_type, advance_amount, customer_value_score, advance_readiness_score, priority_score, arpu_trend FROM recommendations WHERE isdn = @i"))
        {
            cmd.Parameters.AddWithValue("i", isdn);
            await using var row = await cmd.ExecuteReaderAsync();
            await row.ReadAsync();
            Assert.Equal(row.GetString(0), rec["service_type"]);
            Assert.Equal(RecordCodec.Number(row.GetDecimal(1)), rec["advance_amount"]);
            Assert.DoesNotContain(".00", rec["advance_amount"], StringComparison.Ordinal);
            Assert.Equal(Priority.Label(row.GetDecimal(4)), rec["priority"]);
            Assert.Equal(row.GetString(5), rec["arpu_trend"]);
            var score = await r.SortedSetScoreAsync(k.ServiceIndex(row.GetString(0)), isdn);
            Assert.Equal(Priority.IndexScore(row.GetDecimal(2), row.GetDecimal(3)), score!.Value, 9);
        }
        await AssertTtlAndListpack(redis, k.Rec(isdn));

        // B: the profile hash, JSON sections with Vietnamese text unescaped, months in order.
        Assert.Equal(RedisType.Hash, await r.KeyTypeAsync(k.Profile(isdn)));
        var profile = (await r.HashGetAllAsync(k.Profile(isdn))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.Equal(RecordCodec.ProfileFields.Order(), profile.Keys.Order());
        Assert.Contains("Khách hàng", profile["basic"], StringComparison.Ordinal);
        Assert.DoesNotContain("\\u", profile["insights"], StringComparison.Ordinal);
        using (var months = JsonDocument.Parse(profile["monthly_arpu"]))
        {
            var list = months.RootElement.EnumerateArray().Select(m => m.GetProperty("month").GetString()!).ToList();
            Assert.Equal(7, list.Count);
            Assert.Equal(list.Order(StringComparer.Ordinal), list);
        }
        using (var kpi = JsonDocument.Parse(profile["kpi_scores"]))
            Assert.True(kpi.RootElement.TryGetProperty("customer_value", out _));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", profile["updated_at"]);
        await AssertTtlAndListpack(redis, k.Profile(isdn));

        // C, D, E: index types and sizes equal PostgreSQL's counts; no TTL.
        foreach (var (service, n) in await CountsAsync(db, "service_type"))
        {
            Assert.Equal(RedisType.SortedSet, await r.KeyTypeAsync(k.ServiceIndex(service)));
            Assert.Equal(n, await r.SortedSetLengthAsync(k.ServiceIndex(service)));
            Assert.Null(await r.KeyTimeToLiveAsync(k.ServiceIndex(service)));
        }
        foreach (var (risk, n) in await CountsAsync(db, "bad_debt_risk"))
        {
            Assert.Equal(RedisType.Set, await r.KeyTypeAsync(k.RiskIndex(risk)));
            Assert.Equal(n, await r.SetLengthAsync(k.RiskIndex(risk)));
            Assert.Null(await r.KeyTimeToLiveAsync(k.RiskIndex(risk)));
        }
        var clusters = await CountsAsync(db, "cluster_group");
        Assert.Equal(4, clusters.Count);
        foreach (var (cluster, n) in clusters)
        {
            Assert.Equal(RedisType.Set, await r.KeyTypeAsync(k.ClusterIndex(cluster)));
            Assert.Equal(n, await r.SetLengthAsync(k.ClusterIndex(cluster)));
        }

        // ZREVRANGE lists by descending priority.
        var top = await r.SortedSetRangeByRankWithScoresAsync(k.ServiceIndex("EasyCredit"), 0, 99, Order.Descending);
        Assert.Equal(100, top.Length);
        for (var i = 1; i < top.Length; i++)
            Assert.True(top[i - 1].Score >= top[i].Score);
        Assert.True(await r.SetContainsAsync(k.RiskIndex(rec["bad_debt_risk"]), isdn));

        // F: meta, the design's fields and ours, agreeing with the indexes; no TTL.
        var meta = (await r.HashGetAllAsync(k.MetaStats)).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.Null(await r.KeyTimeToLiveAsync(k.MetaStats));
        Assert.Equal("400", meta["total_subscribers"]);
        Assert.Equal((await r.SortedSetLengthAsync(k.ServiceIndex("EasyCredit"))).ToString(CultureInfo.InvariantCulture), meta["total_easycredit"]);
        Assert.Equal((await r.SortedSetLengthAsync(k.ServiceIndex("MBFG"))).ToString(CultureInfo.InvariantCulture), meta["total_mbfg"]);
        Assert.Equal((await r.SortedSetLengthAsync(k.ServiceIndex("ungsanluong"))).ToString(CultureInfo.InvariantCulture), meta["total_ungsanluong"]);
        Assert.Equal((await r.SetLengthAsync(k.RiskIndex("LOW"))).ToString(CultureInfo.InvariantCulture), meta["total_low_risk"]);
        Assert.Equal((await r.SetLengthAsync(k.RiskIndex("MEDIUM"))).ToString(CultureInfo.InvariantCulture), meta["total_medium_risk"]);
        Assert.Equal(clusters["2"].ToString(CultureInfo.InvariantCulture), meta["total_cluster_2"]);
        var avg = await ScalarAsync<decimal>(db, "SELECT round(avg(advance_amount), 2) FROM recommendations");
        Assert.Equal(RecordCodec.Number(avg), meta["avg_advance_amount"]);
        var potential = await ScalarAsync<decimal>(db, "SELECT sum(revenue_potential) FROM subscriber_360_profiles");
        Assert.Equal(RecordCodec.Number(potential), meta["total_revenue_potential"]);
        Assert.Equal("bench-fill-400", meta["data_version"]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", meta["last_updated"]);
        Assert.Equal(result.RunId!.Value.ToString(CultureInfo.InvariantCulture), meta["sync_id"]);
        Assert.True(meta.ContainsKey("sync_duration_ms"));

        // No temporary key is left behind, and the run is recorded.
        Assert.Empty(await KeysAsync(redis, "{" + k.Namespace + ":*"));
        var run = await SyncRuns.HistoryAsync(db.DataSource, 1, default).FirstAsync();
        Assert.Equal((SyncKind.Full, "test", SyncOutcome.Succeeded, 800, 400), (run.Kind, run.Trigger, run.Outcome, run.KeysWritten, run.Subscribers));
        Assert.NotNull(run.DurationMs);
        Assert.NotNull(run.FinishedAt);
    }

    static async Task AssertTtlAndListpack(TestRedis redis, RedisKey key)
    {
        var ttl = await redis.Db.KeyTimeToLiveAsync(key);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, RedisKeys.RecordTtl - TimeSpan.FromMinutes(5), RedisKeys.RecordTtl);
        Assert.Equal("listpack", (string?)await redis.Db.ExecuteAsync("OBJECT", "ENCODING", key));
    }

    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_second_sync_renews_ttls_removes_gone_subscribers_and_moves_resegmented_ones(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 300);
        await FullAsync(db, redis);
        var r = redis.Db;
        var k = redis.Keys;

        var gone = await IsdnsAsync(db, "id <= 5");
        var moved = await IsdnsAsync(db, "id BETWEEN 6 AND 10");
        var movedOld = moved.Select(i => r.HashGet(k.Rec(i), ["service_type", "bad_debt_risk", "cluster_group"])).ToList();
        await DeleteAsync(db, "id <= 5");
        // Re-segment: a service, a risk and a cluster none of them had.
        await ExecAsync(db, """
            UPDATE recommendations
               SET service_type = CASE service_type WHEN 'ungsanluong' THEN 'MBFG' ELSE 'ungsanluong' END,
                   bad_debt_risk = 'HIGH', cluster_group = 9, updated_at = now()
             WHERE id BETWEEN 6 AND 10
            """);
        await r.KeyExpireAsync(k.Rec(moved[0]), TimeSpan.FromMinutes(1));

        var result = await FullAsync(db, redis);

        Assert.Equal(5, result.SubscribersRemoved);
        Assert.Equal(10, result.KeysDeleted);
        Assert.Equal(5, result.IndexMoves);
        foreach (var i in gone)
        {
            Assert.False(await r.KeyExistsAsync(k.Rec(i)));
            Assert.False(await r.KeyExistsAsync(k.Profile(i)));
            foreach (var s in Vocabulary.ServiceTypes)
                Assert.Null(await r.SortedSetScoreAsync(k.ServiceIndex(s), i));
            foreach (var risk in Vocabulary.RiskLevels)
                Assert.False(await r.SetContainsAsync(k.RiskIndex(risk), i));
        }
        for (var n = 0; n < moved.Count; n++)
        {
            var i = moved[n];
            var now = await r.HashGetAsync(k.Rec(i), ["service_type", "bad_debt_risk", "cluster_group"]);
            Assert.Equal("HIGH", (string?)now[1]);
            Assert.Equal("9", (string?)now[2]);
            Assert.NotNull(await r.SortedSetScoreAsync(k.ServiceIndex((string)now[0]!), i));
            Assert.Null(await r.SortedSetScoreAsync(k.ServiceIndex((string)movedOld[n][0]!), i));
            Assert.False(await r.SetContainsAsync(k.RiskIndex((string)movedOld[n][1]!), i));
            Assert.False(await r.SetContainsAsync(k.ClusterIndex((string)movedOld[n][2]!), i));
            Assert.True(await r.SetContainsAsync(k.ClusterIndex(9), i));
        }
        Assert.True((await r.KeyTimeToLiveAsync(k.Rec(moved[0])))!.Value > TimeSpan.FromDays(6));
        foreach (var (service, n) in await CountsAsync(db, "service_type"))
            Assert.Equal(n, await r.SortedSetLengthAsync(k.ServiceIndex(service)));
        foreach (var (risk, n) in await CountsAsync(db, "bad_debt_risk"))
            Assert.Equal(n, await r.SetLengthAsync(k.RiskIndex(risk)));
        Assert.Equal("295", (string?)await r.HashGetAsync(k.MetaStats, "total_subscribers"));
        Assert.Equal("5", (string?)await r.HashGetAsync(k.MetaStats, "total_cluster_9"));

        // Every subscriber of cluster 9 leaves it: the index and its meta field disappear.
        await ExecAsync(db, "UPDATE recommendations SET cluster_group = 1, updated_at = now() WHERE cluster_group = 9");
        await FullAsync(db, redis);
        Assert.False(await r.KeyExistsAsync(k.ClusterIndex(9)));
        Assert.False(await r.HashExistsAsync(k.MetaStats, "total_cluster_9"));
    }

    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_dry_run_reports_the_changes_and_writes_nothing(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 200);
        await FullAsync(db, redis);
        await DeleteAsync(db, "id <= 3");
        await ExecAsync(db, "UPDATE recommendations SET cluster_group = 7 WHERE id BETWEEN 4 AND 7");
        var before = await DumpAsync(redis);
        var runs = await ScalarAsync<long>(db, "SELECT count(*) FROM sync_runs");

        var result = await Engine(db, redis).RunAsync(new SyncRequest { DryRun = true }, null, default);

        Assert.Equal(SyncOutcome.DryRun, result.Outcome);
        Assert.Equal(3, result.SubscribersRemoved);
        Assert.Equal(6, result.KeysDeleted);
        Assert.Equal(4, result.IndexMoves);
        Assert.Equal(394, result.KeysWritten);
        Assert.Equal(before, await DumpAsync(redis));
        Assert.Equal(runs, await ScalarAsync<long>(db, "SELECT count(*) FROM sync_runs"));
    }

    [Fact]
    public async Task A_second_sync_while_one_holds_the_lock_is_skipped_and_recorded()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await TestRedis.CreateAsync();
        await FillAsync(db, 10);
        var engine = Engine(db, redis);

        await using (var first = await engine.BeginAsync(new SyncRequest(), default))
        {
            Assert.NotNull(first);
            var second = await engine.RunAsync(new SyncRequest { Trigger = "schedule" }, null, default);
            Assert.Equal(SyncOutcome.Skipped, second.Outcome);
        }
        Assert.Equal(SyncOutcome.Succeeded, (await engine.RunAsync(new SyncRequest(), null, default)).Outcome);
        var history = await SyncRuns.HistoryAsync(db.DataSource, 10, default).ToListAsync();
        Assert.Contains(history, h => h.Outcome == SyncOutcome.Skipped && h.Trigger == "schedule");
    }
}
