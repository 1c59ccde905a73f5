using System.Diagnostics.Metrics;

namespace Ut360.Api.Infrastructure;

/// The service's own instruments (meter "Ut360.Api"), exported at /metrics next to ASP.NET
/// Core's request-duration histograms. Totals are also kept as plain fields for
/// GET /api/v1/admin/cache and the tests.
public sealed class ApiMetrics
{
    public const string MeterName = "Ut360.Api";

    readonly Counter<long> _hits, _nearHits, _nearMisses, _nearInvalidations, _misses, _fallbacks, _redisFailures, _pgReads, _coalesced;
    long _hitCount, _nearHitCount, _nearMissCount, _missCount, _fallbackCount, _pgReadCount, _coalescedCount;

    public ApiMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _hits = meter.CreateCounter<long>("ut360.cache.hits", description: "Records answered from Redis");
        _nearHits = meter.CreateCounter<long>("ut360.cache.near_hits", description: "Records answered from the in-process near cache, without a Redis round trip");
        _nearMisses = meter.CreateCounter<long>("ut360.cache.near_misses", description: "Single-record reads the in-process near cache lacked (read from Redis, or joined a read in flight)");
        _nearInvalidations = meter.CreateCounter<long>("ut360.cache.near_invalidations", description: "Times the near cache was cleared because a sync or dual write finished");
        _misses = meter.CreateCounter<long>("ut360.cache.misses", description: "Records Redis lacked, read from PostgreSQL and written back");
        _fallbacks = meter.CreateCounter<long>("ut360.cache.fallbacks", description: "Requests served from PostgreSQL because Redis was unavailable");
        _redisFailures = meter.CreateCounter<long>("ut360.redis.failures", description: "Redis commands that failed or exceeded the timeout budget");
        _pgReads = meter.CreateCounter<long>("ut360.postgres.reads", description: "PostgreSQL queries made to answer requests");
        _coalesced = meter.CreateCounter<long>("ut360.cache.coalesced", description: "Near-cache misses answered by a read already in flight (Redis, then PostgreSQL) instead of their own");
        meter.CreateObservableGauge("ut360.sync.runs", () => SyncRuns, description: "Redis sync runs recorded in sync_runs");
        meter.CreateObservableGauge("ut360.data.age", () => DataAgeSeconds, unit: "s",
            description: "Seconds since the last successful Redis sync finished (-1 when none)");
        meter.CreateObservableGauge("ut360.redis.circuit_open", () => CircuitOpen ? 1 : 0,
            description: "1 while requests bypass Redis");
    }

    public long Hits => Volatile.Read(ref _hitCount);
    public long NearHits => Volatile.Read(ref _nearHitCount);
    public long NearMisses => Volatile.Read(ref _nearMissCount);
    public long Misses => Volatile.Read(ref _missCount);
    public long Fallbacks => Volatile.Read(ref _fallbackCount);
    public long PostgresReads => Volatile.Read(ref _pgReadCount);
    public long Coalesced => Volatile.Read(ref _coalescedCount);

    /// Set by SyncStatusPoller.
    public long SyncRuns { get; set; }
    public DateTimeOffset? LastSyncFinished { get; set; }
    public bool CircuitOpen { get; set; }

    double DataAgeSeconds => LastSyncFinished is { } t ? (DateTimeOffset.UtcNow - t).TotalSeconds : -1;

    public void Hit(long n = 1) { Interlocked.Add(ref _hitCount, n); _hits.Add(n); }
    public void NearHit(long n = 1) { Interlocked.Add(ref _nearHitCount, n); _nearHits.Add(n); }
    public void NearMiss() { Interlocked.Increment(ref _nearMissCount); _nearMisses.Add(1); }
    public void NearInvalidation() => _nearInvalidations.Add(1);
    public void Miss(long n = 1) { Interlocked.Add(ref _missCount, n); _misses.Add(n); }
    public void Fallback(long n = 1) { Interlocked.Add(ref _fallbackCount, n); _fallbacks.Add(n); }

    /// <summary>Counts a read that Redis could not answer: a miss when Redis answered without it,
    /// a fallback when Redis was not asked (circuit open) or failed.</summary>
    /// <returns>The outcome to report (X-Cache: miss either way).</returns>
    public CacheOutcome NotInRedis(bool redisAnswered)
    {
        if (redisAnswered)
        {
            Miss();
            return CacheOutcome.Miss;
        }
        Fallback();
        return CacheOutcome.Fallback;
    }
    public void RedisFailure() => _redisFailures.Add(1);
    public void PostgresRead() { Interlocked.Increment(ref _pgReadCount); _pgReads.Add(1); }
    public void Coalesce() { Interlocked.Increment(ref _coalescedCount); _coalesced.Add(1); }
}
