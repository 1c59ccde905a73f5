using System.Diagnostics;
using Npgsql;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Records;
using Ut360.Data.Redis;

namespace Ut360.Api.Recommendations;

/// Cache-aside reads of ut360:rec:{ISDN} (the design's Strategy 1): Redis first; a miss reads
/// PostgreSQL, answers, and writes the hash back with its TTL (never over newer data, see
/// CacheFill); Redis unavailable → PostgreSQL alone through the RedisGate circuit.
public sealed class RecommendationStore(
    IConnectionMultiplexer redis, NpgsqlDataSource db, RedisKeys keys, RedisGate gate, ApiMetrics metrics,
    NearCache<RecommendationView> near, ILogger<RecommendationStore> logger)
{
    readonly SingleFlight<RecommendationView?> _flight = new(metrics);

    public Task<(RecommendationView? View, CacheTiming Timing)> GetAsync(string isdn, CancellationToken ct) =>
        GetAsync(isdn, RecommendationView.RedisFields, ct);

    /// One recommendation. `fields` is RedisFields or a subset in the same positions (the
    /// unwanted ones null), so ?fields= reads only what it returns.
    public Task<(RecommendationView? View, CacheTiming Timing)> GetAsync(string isdn, RedisValue[] fields, CancellationToken ct)
    {
        // A whole recommendation kept near answers any ?fields= projection; only whole ones are kept.
        var whole = ReferenceEquals(fields, RecommendationView.RedisFields);
        if (!whole && near.TryGet(isdn, out var kept))
        {
            metrics.NearHit();
            return Task.FromResult<(RecommendationView?, CacheTiming)>((kept, new CacheTiming { Outcome = CacheOutcome.Near }));
        }
        return CacheAside.GetAsync(isdn, (Store: this, Isdn: isdn, Fields: fields), gate, metrics, _flight,
            whole && near.Enabled ? near : null,
            static s => s.Store.ReadRedisAsync(s.Isdn, s.Fields),
            static (i, s, t) => s.State.Store.LoadOneAsync(i, s.Fill, t), ct);
    }

    async Task<RecommendationView?> ReadRedisAsync(string isdn, RedisValue[] fields) =>
        RecommendationView.FromRedis(isdn, Expand(fields, await redis.GetDatabase().HashGetAsync(keys.Rec(isdn), Compact(fields))));

    async Task<RecommendationView?> LoadOneAsync(string isdn, bool fill, CancellationToken ct)
    {
        metrics.PostgresRead();
        var row = await SubscriberQueries.GetRecommendationAsync(db, isdn, ct);
        if (row is null)
            return null;
        if (fill)
            await FillAsync([row]);
        return RecommendationView.From(row);
    }

    /// Many recommendations at once (UC2 pages, UC3/UC4 details, UC6): every HMGET issued
    /// before the first is awaited (one pipelined round), the misses in one PostgreSQL query
    /// (= ANY), written back in one more pipelined round. Results in the order asked; null = unknown.
    public async Task<(RecommendationView?[] Views, CacheTiming Timing, int Hits)> GetManyAsync(IReadOnlyList<string> isdns, CancellationToken ct)
    {
        var views = new RecommendationView?[isdns.Count];
        var timing = new CacheTiming { Outcome = CacheOutcome.Hit };
        var generation = near.Generation;
        var nearHits = 0;
        for (var i = 0; i < views.Length; i++)
            if (near.TryGet(isdns[i], out var kept))
            {
                views[i] = kept;
                nearHits++;
            }
        metrics.NearHit(nearHits);
        if (nearHits == isdns.Count)
            return (views, new CacheTiming { Outcome = CacheOutcome.Near }, nearHits);

        var hits = nearHits;
        var useRedis = gate.Allow();
        if (useRedis)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                // Pipelined HMGETs, every one sent before the first is awaited. (One script call
                // per 250 keys cost the client less but Redis ~4x more per record, ~12 µs against
                // ~3 µs, and held it for ~3 ms a call: Redis is the part every instance shares.)
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
                    if ((views[i] = RecommendationView.FromRedis(isdns[i], await read)) is { } view)
                    {
                        hits++;
                        near.Set(isdns[i], view, generation);
                    }
                }
                timing.AddRedis(start);
                gate.Success();
            }
            catch (Exception e) when (RedisGate.IsRedisFault(e))
            {
                timing.AddRedis(start);
                gate.Failure();
                useRedis = false;
            }
        }
        metrics.Hit(hits - nearHits);
        if (hits == isdns.Count)
            return (views, timing, hits);

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
                near.Set(isdns[i], views[i] = RecommendationView.From(row), generation);
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

    /// Never throws: a caller may leave it running after its answer has gone.
    async Task FillAsync(IReadOnlyList<Recommendation> rows)
    {
        try
        {
            await CacheFill.FillHashesIfAbsentAsync(redis, keys, [.. rows.Select(r => (r.Isdn, keys.Rec(r.Isdn), RecordCodec.EncodeRec(r)))], RedisKeys.RecordTtl);
        }
        catch (Exception e) when (RedisGate.IsRedisFault(e))
        {
            // The answer is already in hand; the next request will try the write-back again.
            gate.Failure();
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
