using System.Diagnostics;
using Npgsql;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Records;
using Ut360.Data.Redis;
using ZiggyCreatures.Caching.Fusion;

namespace Ut360.Api.Recommendations;

/// <summary>
/// Cache-aside reads of ut360:rec:{ISDN} (the design's Strategy 1): the in-process level
/// (<see cref="NearCache{T}"/>), then Redis through the <see cref="RedisCircuit"/>; a miss reads
/// PostgreSQL, answers, and writes the hash back with its TTL (never over newer data, never for
/// a deleted subscriber: <see cref="CacheFill"/>). Redis unavailable → PostgreSQL alone.
/// </summary>
public sealed class RecommendationStore(
    IConnectionMultiplexer redis, NpgsqlDataSource db, RedisKeys keys, RedisCircuit circuit, ApiMetrics metrics,
    NearCache<RecommendationView> near, ILogger<RecommendationStore> logger)
{
    public Task<(RecommendationView? View, CacheTiming Timing)> GetAsync(string isdn, CancellationToken ct) =>
        GetAsync(isdn, RecommendationView.RedisFields, ct);

    /// <summary>One recommendation (UC1).</summary>
    /// <param name="fields">RedisFields or a subset in the same positions (the unwanted ones null),
    /// so ?fields= reads only what it returns.</param>
    /// <returns>The record (null: no such subscriber) and where it came from.</returns>
    /// <exception cref="NpgsqlException">Redis lacks the record and PostgreSQL cannot be reached (a 503).</exception>
    public async Task<(RecommendationView? View, CacheTiming Timing)> GetAsync(string isdn, RedisValue[] fields, CancellationToken ct)
    {
        if (near.Cache is not { } cache)
            return await ReadAsync(isdn, fields, ct);
        var key = near.Key(isdn);
        // A whole recommendation kept near answers any ?fields= projection; only whole ones are kept.
        if (cache.TryGet<RecommendationView?>(key, token: ct) is { HasValue: true } kept)
        {
            metrics.NearHit();
            return (kept.Value, new CacheTiming { Outcome = CacheOutcome.Near });
        }
        metrics.NearMiss();
        if (!ReferenceEquals(fields, RecommendationView.RedisFields))
            return await ReadAsync(isdn, fields, ct);

        var (view, timing, read) = await near.GetOrReadAsync(key, token => ReadAsync(isdn, fields, token), ct);
        if (!read)
            metrics.Coalesce();
        return (view, timing);
    }

    /// <summary>Redis, then PostgreSQL on a miss or when Redis is unavailable.</summary>
    async Task<(RecommendationView? View, CacheTiming Timing)> ReadAsync(string isdn, RedisValue[] fields, CancellationToken ct)
    {
        var timing = new CacheTiming();
        var start = Stopwatch.GetTimestamp();
        var (answered, values) = await circuit.TryAsync(
            static s => s.Database.HashGetAsync(s.Key, Compact(s.Fields)), (Database: redis.GetDatabase(), Key: keys.Rec(isdn), Fields: fields), ct);
        timing.AddRedis(start);
        if (answered && RecommendationView.FromRedis(isdn, Expand(fields, values)) is { } view)
        {
            metrics.Hit();
            timing.Outcome = CacheOutcome.Hit;
            return (view, timing);
        }
        timing.Outcome = metrics.NotInRedis(answered);

        var pgStart = Stopwatch.GetTimestamp();
        metrics.PostgresRead();
        var row = await SubscriberQueries.GetRecommendationAsync(db, isdn, ct);
        timing.AddPostgres(pgStart);
        // Not written back while Redis is failing: the write would only add to its trouble.
        if (row is not null && answered)
            await FillAsync([row]);
        return (row is null ? null : RecommendationView.From(row), timing);
    }

    /// <summary>
    /// Many recommendations at once (UC2 pages, UC3/UC4 details, UC6): the in-process level, then
    /// every HMGET issued before the first is awaited (one pipelined round), the misses in one
    /// PostgreSQL query (= ANY), written back in the background.
    /// </summary>
    /// <returns>The records in the order asked (null = unknown), where they came from, and how
    /// many came from a cache (in process or Redis).</returns>
    public async Task<(RecommendationView?[] Views, CacheTiming Timing, int Hits)> GetManyAsync(IReadOnlyList<string> isdns, CancellationToken ct)
    {
        var views = new RecommendationView?[isdns.Count];
        var timing = new CacheTiming { Outcome = CacheOutcome.Hit };
        // Keys of the generation before any read, so what is kept near after a sync is never served.
        string[]? nearKeys = null;
        var nearHits = 0;
        if (near.Cache is { } cache)
        {
            var generation = near.Generation;
            nearKeys = new string[views.Length];
            for (var i = 0; i < views.Length; i++)
                if (cache.TryGet<RecommendationView?>(nearKeys[i] = NearCache<RecommendationView>.Key(generation, isdns[i]), token: ct) is { HasValue: true, Value: { } kept })
                {
                    views[i] = kept;
                    nearHits++;
                }
        }
        metrics.NearHit(nearHits);
        if (nearHits == isdns.Count)
            return (views, new CacheTiming { Outcome = CacheOutcome.Near }, nearHits);
        var found = nearKeys is null ? null : (bool[])[.. views.Select(v => v is not null)];

        var start = Stopwatch.GetTimestamp();
        var (useRedis, _) = await circuit.TryAsync(
            static s => s.Store.ReadManyAsync(s.Isdns, s.Views, s.Ct), (Store: this, Isdns: isdns, Views: views, Ct: ct), ct);
        timing.AddRedis(start);
        // Counted, not returned: a read that failed half-way keeps the records it got.
        var hits = views.Count(v => v is not null);
        metrics.Hit(hits - nearHits);
        if (hits == isdns.Count)
        {
            KeepNear(nearKeys, found, views);
            return (views, timing, hits);
        }

        timing.Outcome = useRedis ? CacheOutcome.Miss : CacheOutcome.Fallback;
        // Records read from PostgreSQL because Redis was not asked (breaker open, an error) are
        // fallbacks, not misses: a miss means Redis answered without them.
        if (useRedis)
            metrics.Miss(isdns.Count - hits);
        else
            metrics.Fallback(isdns.Count - hits);
        var missing = new List<string>(isdns.Count - hits);
        for (var i = 0; i < views.Length; i++)
            if (views[i] is null)
                missing.Add(isdns[i]);

        var pgStart = Stopwatch.GetTimestamp();
        metrics.PostgresRead();
        var rows = new Dictionary<string, Recommendation>(missing.Count, StringComparer.Ordinal);
        await foreach (var row in SubscriberQueries.GetRecommendationsAsync(db, missing, ct))
            rows[row.Isdn] = row;
        timing.AddPostgres(pgStart);
        for (var i = 0; i < views.Length; i++)
            if (views[i] is null && rows.TryGetValue(isdns[i], out var row))
                views[i] = RecommendationView.From(row);
        KeepNear(nearKeys, found, views);
        // The answer is in hand: the write-back does not hold it up. Encoding and sending 10,000
        // hashes took 0.2-0.4 s, and the client library sends on the caller's thread, so it runs
        // on a thread of its own. Until it lands, a repeat of these ISDNs is answered by the near
        // cache or misses again, both correct.
        if (useRedis && rows.Count > 0)
        {
            Recommendation[] filled = [.. rows.Values];
            _ = Task.Run(() => FillAsync(filled), CancellationToken.None);
        }
        return (views, timing, hits);
    }

    /// Keeps near what a list read from Redis or PostgreSQL (the records not `found` near), on a
    /// thread of its own: the answer does not wait for 10,000 cache entries being made.
    void KeepNear(string[]? nearKeys, bool[]? found, RecommendationView?[] views)
    {
        if (near.Cache is not { } cache || nearKeys is null || found is null)
            return;
        _ = Task.Run(() =>
        {
            for (var i = 0; i < views.Length; i++)
                if (!found[i] && views[i] is { } view)
                    cache.Set(nearKeys[i], view, token: CancellationToken.None);
        }, CancellationToken.None);
    }

    /// Pipelined HMGETs of the records not yet in `views`, every one sent before the first is
    /// awaited. (One script call per 250 keys cost the client less but Redis ~4x more per record,
    /// ~12 µs against ~3 µs, and held it for ~3 ms a call: Redis is the part every instance shares.)
    async Task<bool> ReadManyAsync(IReadOnlyList<string> isdns, RecommendationView?[] views, CancellationToken ct)
    {
        var database = redis.GetDatabase();
        var pending = new Task<RedisValue[]>?[isdns.Count];
        for (var i = 0; i < pending.Length; i++)
            if (views[i] is null)
                pending[i] = database.HashGetAsync(keys.Rec(isdns[i]), RecommendationView.RedisFields);
        for (var i = 0; i < pending.Length; i++)
        {
            if (pending[i] is not { } read)
                continue;
            ct.ThrowIfCancellationRequested();
            views[i] = RecommendationView.FromRedis(isdns[i], await read);
        }
        return true;
    }

    /// Never throws: a caller may leave it running after its answer has gone. Through the
    /// circuit: a failing write-back counts towards opening it like a failing read, and none is
    /// tried while it is open.
    async Task FillAsync(IReadOnlyList<Recommendation> rows)
    {
        try
        {
            await circuit.TryAsync(static async s =>
            {
                await CacheFill.FillHashesIfAbsentAsync(s.Redis, s.Keys, [.. s.Rows.Select(r => (r.Isdn, s.Keys.Rec(r.Isdn), RecordCodec.EncodeRec(r)))], RedisKeys.RecordTtl);
                return true;
            }, (Redis: redis, Keys: keys, Rows: rows), CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Writing {Count} recommendations back to Redis failed", rows.Count);
        }
    }

    static RedisValue[] Compact(RedisValue[] fields)
    {
        if (ReferenceEquals(fields, RecommendationView.RedisFields))
            return fields;
        return Array.FindAll(fields, f => !f.IsNull);
    }

    static RedisValue[] Expand(RedisValue[] fields, RedisValue[] values)
    {
        if (ReferenceEquals(fields, RecommendationView.RedisFields))
            return values;
        var all = new RedisValue[fields.Length];
        for (int i = 0, j = 0; i < fields.Length; i++)
            if (!fields[i].IsNull)
                all[i] = values[j++];
        return all;
    }
}
