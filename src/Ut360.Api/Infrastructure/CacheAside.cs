using System.Diagnostics;

namespace Ut360.Api.Infrastructure;

/// The single-key read both stores share (the design's Strategy 1): the in-process near cache
/// (when given), then Redis through the RedisGate circuit; a hit answers. A miss, or Redis
/// unavailable, reads PostgreSQL once per key through single-flight; the loader is told whether
/// to write back (not while Redis is failing). What Redis or PostgreSQL answered is kept near.
public static class CacheAside
{
    public static async Task<(T? View, CacheTiming Timing)> GetAsync<T, TState>(
        string isdn, TState state, RedisGate gate, ApiMetrics metrics, SingleFlight<T?> flight, NearCache<T>? near,
        Func<TState, Task<T?>> readRedis,
        Func<string, (TState State, bool Fill), CancellationToken, Task<T?>> load,
        CancellationToken ct) where T : class
    {
        var timing = new CacheTiming();
        var generation = 0L;
        if (near is not null)
        {
            if (near.TryGet(isdn, out var kept))
            {
                metrics.NearHit();
                timing.Outcome = CacheOutcome.Near;
                return (kept, timing);
            }
            generation = near.Generation;
        }
        var useRedis = gate.Allow();
        if (useRedis)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                var view = await readRedis(state);
                timing.AddRedis(start);
                gate.Success();
                if (view is not null)
                {
                    metrics.Hit();
                    timing.Outcome = CacheOutcome.Hit;
                    near?.Set(isdn, view, generation);
                    return (view, timing);
                }
                metrics.Miss();
                timing.Outcome = CacheOutcome.Miss;
            }
            catch (Exception e) when (RedisGate.IsRedisFault(e))
            {
                timing.AddRedis(start);
                gate.Failure();
                useRedis = false;
            }
        }
        if (!useRedis)
        {
            metrics.Fallback();
            timing.Outcome = CacheOutcome.Fallback;
        }
        var pgStart = Stopwatch.GetTimestamp();
        var loaded = await flight.RunAsync(isdn, (state, useRedis), load, ct);
        timing.AddPostgres(pgStart);
        if (loaded is not null)
            near?.Set(isdn, loaded, generation);
        return (loaded, timing);
    }
}
