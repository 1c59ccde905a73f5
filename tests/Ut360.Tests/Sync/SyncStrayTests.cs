using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

/// Issue 16, item 1: a sync killed while it writes, then PostgreSQL back to the previous version
/// before the next sync. The next full sync must leave exactly what a sync into an empty
/// namespace writes, though no index ever listed what the killed run wrote.
public sealed class SyncStrayTests
{
    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_full_sync_after_a_killed_one_deletes_the_records_it_wrote_that_postgresql_no_longer_has(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        var k = redis.Keys;
        await FillAsync(db, 3000);
        await FullAsync(db, redis);

        // Version 2: 300 more subscribers. Its sync is killed once it has written every rec and
        // its whole temporary LOW-risk index (the profile stream waits on the monthly table the
        // test holds), so nothing it wrote is published.
        await FillAsync(db, 3300);
        var added = await IsdnsAsync(db, "id > 3000");
        await SyncChild.KillSyncBeforePublishAsync(db, redis);
        await SyncChild.WaitForLocksReleasedAsync(db);
        Assert.True(await redis.Db.KeyExistsAsync(k.SyncWriting));
        foreach (var i in added)
            Assert.True(await redis.Db.KeyExistsAsync(k.Rec(i)), $"the killed run did not write rec {i}");

        // PostgreSQL goes back to version 1 before the next sync.
        await FillAsync(db, 3000);
        var result = await FullAsync(db, redis);

        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.Equal(added.Count, result.KeysDeleted);
        foreach (var i in added)
            Assert.False(await redis.Db.KeyExistsAsync(k.Rec(i)), $"rec {i} outlived the sync after the killed one");
        Assert.False(await redis.Db.KeyExistsAsync(k.SyncWriting));
        await using var fresh = await RedisAsync(target);
        await FullAsync(db, fresh);
        AssertSameDump(await DumpAsync(fresh), await DumpAsync(redis));
    }

    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_sync_that_ends_well_leaves_no_writing_mark_and_sweeps_nothing(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 200);
        await FullAsync(db, redis);
        // A record no index lists, as an API write-back of a subscriber deleted since would be:
        // without a run that stopped mid-write, a full sync does not scan for it.
        await redis.Db.HashSetAsync(redis.Keys.Rec("stray"), "isdn", "stray");

        var result = await FullAsync(db, redis);

        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.DoesNotContain(result.Timings, t => t.Item1 == "sweep");
        Assert.False(await redis.Db.KeyExistsAsync(redis.Keys.SyncWriting));
        Assert.True(await redis.Db.KeyExistsAsync(redis.Keys.Rec("stray")));

        // A mark left by a run that died: the next full sync sweeps.
        await redis.Db.StringSetAsync(redis.Keys.SyncWriting, "12345");
        result = await FullAsync(db, redis);
        Assert.Contains(result.Timings, t => t.Item1 == "sweep");
        Assert.False(await redis.Db.KeyExistsAsync(redis.Keys.Rec("stray")));
        Assert.Equal(1, result.KeysDeleted);
    }
}
