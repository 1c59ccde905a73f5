using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Records;
using Ut360.Data.Redis;
using Ut360.Tests.Sync;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Api;

/// The write-back of misses (CacheFill) on both deployments: the standalone script checks in one
/// atomic step, a Cluster looks the deleted ISDNs up first.
public sealed class CacheFillTests
{
    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_write_back_skips_what_a_sync_deletes_and_never_overwrites(string target)
    {
        await using var redis = await RedisAsync(target);
        var k = redis.Keys;
        var (deleting, deleted, plain, newer) = (ApiTestData.Rec(1), ApiTestData.Rec(2), ApiTestData.Rec(3), ApiTestData.Rec(4));
        await redis.Db.SetAddAsync(k.SyncGone, deleting.Isdn);
        await redis.Db.SetAddAsync(k.SyncDeleted, deleted.Isdn);
        await redis.Db.HashSetAsync(k.Rec(newer.Isdn), RecordCodec.EncodeRec(newer with { AdvanceAmount = 99000 }));

        await CacheFill.FillHashesIfAbsentAsync(redis.Connection, k,
            [.. new[] { deleting, deleted, plain, newer }.Select(r => (r.Isdn, k.Rec(r.Isdn), RecordCodec.EncodeRec(r)))],
            RedisKeys.RecordTtl);

        Assert.False(await redis.Db.KeyExistsAsync(k.Rec(deleting.Isdn)));
        Assert.False(await redis.Db.KeyExistsAsync(k.Rec(deleted.Isdn)));
        Assert.Equal(plain.ServiceType, (string?)await redis.Db.HashGetAsync(k.Rec(plain.Isdn), "service_type"));
        Assert.InRange((await redis.Db.KeyTimeToLiveAsync(k.Rec(plain.Isdn)))!.Value, RedisKeys.RecordTtl - TimeSpan.FromMinutes(1), RedisKeys.RecordTtl);
        Assert.Equal("99000", (string?)await redis.Db.HashGetAsync(k.Rec(newer.Isdn), "advance_amount"));
    }
}
