using System.Diagnostics;
using Npgsql;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Redis;

namespace Ut360.Api.Segments;

/// <summary>Where a segment page is read from.</summary>
public enum SegmentStore { Redis, Postgres }

/// Finds the members of a segment by descending priority, with the exact count, from Redis or
/// from PostgreSQL. bench/segments.sh measures both; docs/api-design.md says which one serves.
public static class SegmentSearch
{
    /// How long an intersection of the indexes is kept for the next pages: long enough for a
    /// user paging through it, short enough that a sync's new indexes are seen soon after.
    public static readonly TimeSpan IntersectionTtl = TimeSpan.FromSeconds(30);

    public sealed record Ids(long Total, List<string> Isdns, SegmentStore Store, CacheTiming Timing);

    /// A service alone (with or without min_priority) is read from its sorted set in Redis, which
    /// carries the priority. A service with a risk level or a cluster is read from PostgreSQL:
    /// intersecting the indexes in Redis (ZINTERSTORE) measured slower than PostgreSQL for a
    /// first page and holds the single-threaded Redis every lookup shares for ~165 ms on the
    /// default dataset's largest combination (bench/results/segments.md); it is still used when
    /// asked for (<paramref name="prefer"/> = Redis), to compare the two. PostgreSQL too when
    /// there is no service (no sorted set to order by), Redis is unavailable or an index is absent.
    public static async Task<Ids> PageAsync(SegmentFilter filter, long offset, int limit, SegmentStore? prefer,
        IConnectionMultiplexer redis, NpgsqlDataSource db, RedisKeys keys, RedisCircuit circuit, CancellationToken ct)
    {
        var fromRedis = filter.Service is not null
            && (prefer == SegmentStore.Redis || (prefer is null && filter.Risk is null && filter.Cluster is null));
        if (fromRedis)
        {
            var start = Stopwatch.GetTimestamp();
            var (_, page) = await circuit.TryAsync(static s => FromRedisAsync(s.filter, s.offset, s.limit, s.redis, s.keys), (filter, offset, limit, redis, keys), ct);
            if (page is not null)
            {
                var timing = new CacheTiming { Outcome = CacheOutcome.Hit };
                timing.AddRedis(start);
                return page with { Timing = timing };
            }
        }
        return await FromPostgresAsync(filter, offset, limit, db, ct);
    }

    static async Task<Ids?> FromRedisAsync(SegmentFilter filter, long offset, int limit, IConnectionMultiplexer redis, RedisKeys keys)
    {
        var database = redis.GetDatabase();
        var sources = filter.IndexKeys(keys);
        RedisKey source;
        if (sources.Length == 1)
        {
            source = sources[0];
            if (!await database.KeyExistsAsync(source))
                return null; // an absent index is not an empty segment
        }
        else
        {
            source = filter.IntersectionKey(keys);
            // Redis Cluster refuses ZINTERSTORE over keys of different slots, and the design's
            // index names share none: there the page comes from PostgreSQL.
            var slot = redis.HashSlot(source);
            if (Array.Exists(sources, k => redis.HashSlot(k) != slot))
                return null;
            if (!await database.KeyExistsAsync(source))
            {
                if (await database.KeyExistsAsync(sources) != sources.Length)
                    return null;
                var weights = new double[sources.Length];
                weights[0] = 1; // the service's score (priority); the sets only filter
                // One transaction, so the intersection never lives without its expiry.
                var tx = database.CreateTransaction();
                _ = tx.SortedSetCombineAndStoreAsync(SetOperation.Intersect, source, sources, weights, Aggregate.Sum);
                _ = tx.KeyExpireAsync(source, IntersectionTtl);
                await tx.ExecuteAsync();
            }
        }
        var total = database.SortedSetLengthAsync(source, filter.MinScore, double.PositiveInfinity);
        var members = database.SortedSetRangeByScoreAsync(source, filter.MinScore, double.PositiveInfinity, Exclude.None, Order.Descending, offset, limit);
        var count = await total;
        var page = await members;
        return new Ids(count, [.. page.Select(m => (string)m!)], SegmentStore.Redis, default);
    }

    /// Ordered as the sorted sets are (cv × ar descending, then the ISDN's bytes descending, as
    /// ZREVRANGEBYSCORE orders equal scores), so both stores give the same pages.
    public const string OrderBy = "coalesce(customer_value_score * advance_readiness_score, 0) DESC, isdn COLLATE \"C\" DESC";

    static async Task<Ids> FromPostgresAsync(SegmentFilter filter, long offset, int limit, NpgsqlDataSource db, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        await using var batch = db.CreateBatch();
        var count = new NpgsqlBatchCommand($"SELECT count(*) FROM recommendations WHERE {filter.Where}");
        filter.AddParameters(count.Parameters);
        var page = new NpgsqlBatchCommand($"SELECT isdn FROM recommendations WHERE {filter.Where} ORDER BY {OrderBy} LIMIT @limit OFFSET @offset");
        filter.AddParameters(page.Parameters);
        page.Parameters.Add(new NpgsqlParameter<int>("limit", limit));
        page.Parameters.Add(new NpgsqlParameter<long>("offset", offset));
        batch.BatchCommands.Add(count);
        batch.BatchCommands.Add(page);
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var total = reader.GetInt64(0);
        await reader.NextResultAsync(ct);
        var isdns = new List<string>(limit);
        while (await reader.ReadAsync(ct))
            isdns.Add(reader.GetString(0));
        var timing = new CacheTiming { Outcome = CacheOutcome.Miss };
        timing.AddPostgres(start);
        return new Ids(total, isdns, SegmentStore.Postgres, timing);
    }
}
