using StackExchange.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

/// Issue 14, item 2: a full sync holds nothing per subscriber. Who is gone, added and moved is
/// worked out by PostgreSQL (MembershipDiff) and the gone subscribers are streamed from there to
/// the pending set and to their deletion, in chunks; the profile stream's monthly JSON is held one
/// ISDN range at a time, and the ranges grow in number with the data.
public sealed class SyncScaleTests
{
    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task Thousands_of_departed_subscribers_are_counted_deleted_and_retired_in_chunks_and_come_back_as_added(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        var k = redis.Keys;
        await FillAsync(db, 3000);
        await FullAsync(db, redis);
        // More than two chunks (SyncContext.IndexChunk) of departures.
        var gone = await IsdnsAsync(db, "id <= 2500");
        await DeleteAsync(db, "id <= 2500");

        var dry = await Engine(db, redis).RunAsync(new SyncRequest { DryRun = true }, null, default);
        Assert.Equal((2500, 5000, 0, 0), (dry.SubscribersRemoved, dry.KeysDeleted, dry.SubscribersAdded, dry.IndexMoves));

        var result = await FullAsync(db, redis);

        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.Equal((2500, 5000, 0, 0), (result.SubscribersRemoved, result.KeysDeleted, result.SubscribersAdded, result.IndexMoves));
        var exists = gone.SelectMany(i => new[] { redis.Db.KeyExistsAsync(k.Rec(i)), redis.Db.KeyExistsAsync(k.Profile(i)) }).ToList();
        Assert.DoesNotContain(true, await Task.WhenAll(exists));
        Assert.False(await redis.Db.KeyExistsAsync(k.SyncGone));
        Assert.Equal(2500, await redis.Db.SetLengthAsync(k.SyncDeleted));
        Assert.Equal("500", (string?)await redis.Db.HashGetAsync(k.MetaStats, "total_subscribers"));

        await FillAsync(db, 3000);
        var back = await FullAsync(db, redis);
        Assert.Equal((0, 0, 2500, 0), (back.SubscribersRemoved, back.KeysDeleted, back.SubscribersAdded, back.IndexMoves));
    }

    [Theory]
    [InlineData(1, 4)]
    [InlineData(214_504, 5)]
    [InlineData(2_145_040, 43)]
    [InlineData(20_000_000, 400)]
    public void The_profile_stream_is_cut_into_ranges_of_at_most_50_000_subscribers_and_never_fewer_than_four(long subscribers, int parts)
    {
        Assert.Equal(parts, FullSync.MonthParts(subscribers));
        Assert.True(subscribers <= 4 || (double)subscribers / parts <= 50_000);
    }
}
