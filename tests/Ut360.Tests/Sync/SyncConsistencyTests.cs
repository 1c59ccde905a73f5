using System.Diagnostics;
using Npgsql;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

/// A sync reads the data version and every row in one PostgreSQL snapshot: a load that commits
/// while the sync runs is wholly in what it publishes, under its own data_version, or wholly out.
public sealed class SyncConsistencyTests
{
    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_sync_that_starts_while_a_load_commits_publishes_rows_and_data_version_of_one_snapshot(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 300);
        var isdn = (await IsdnsAsync(db, "id = 1"))[0];
        var before = await ScalarAsync<string>(db, "SELECT data_version FROM data_loads ORDER BY id DESC LIMIT 1");
        var amountBefore = await ScalarAsync<decimal>(db, "SELECT advance_amount FROM recommendations WHERE id = 1");

        // A load that has merged its rows and recorded its version, held before its commit. Its
        // exclusive lock on recommendations makes the sync wait on its first read of them
        // (first wait); the test commits once it sees the sync waiting (second wait).
        await using var load = await db.DataSource.OpenConnectionAsync();
        await using var tx = await load.BeginTransactionAsync();
        await using (var cmd = new NpgsqlCommand("""
            LOCK TABLE recommendations IN ACCESS EXCLUSIVE MODE;
            UPDATE recommendations SET advance_amount = 77000, updated_at = now() WHERE id = 1;
            INSERT INTO data_loads (data_version, mode, source_dir, source_format, outcome, finished_at)
            VALUES ('v-next', 'upsert', 'test', 'csv', 'succeeded', clock_timestamp());
            """, load, tx))
            await cmd.ExecuteNonQueryAsync();

        var sync = Task.Run(() => FullAsync(db, redis));
        var deadline = Stopwatch.StartNew();
        while (await ScalarAsync<long>(db, """
            SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE d.datname = current_database() AND NOT l.granted AND l.relation = 'recommendations'::regclass
            """) == 0)
        {
            Assert.False(sync.IsCompleted, "the sync finished without waiting for the load's lock");
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(1), "the sync never reached its read of recommendations");
            await Task.Delay(20);
        }
        await tx.CommitAsync();

        var result = await sync;
        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        // The snapshot was taken before the load committed: its version and its rows, together.
        Assert.Equal(before, result.DataVersion);
        Assert.Equal(before, (string?)await redis.Db.HashGetAsync(redis.Keys.MetaStats, "data_version"));
        Assert.Equal(Ut360.Data.Redis.RecordCodec.Number(amountBefore), (string?)await redis.Db.HashGetAsync(redis.Keys.Rec(isdn), "advance_amount"));

        // The next sync publishes the load, under its version.
        var next = await FullAsync(db, redis);
        Assert.Equal("v-next", next.DataVersion);
        Assert.Equal("v-next", (string?)await redis.Db.HashGetAsync(redis.Keys.MetaStats, "data_version"));
        Assert.Equal("77000", (string?)await redis.Db.HashGetAsync(redis.Keys.Rec(isdn), "advance_amount"));
    }
}
