using System.Diagnostics;

namespace Ut360.Api.Infrastructure;

/// The single-key read both stores share (the design's Strategy 1): Redis first through the
/// RedisGate circuit; a hit answers. A miss, or Redis unavailable, reads PostgreSQL once per key
/// through single-flight; the loader is told whether to write back (not while Redis is failing).
public static class CacheAside
{
    public static async Task<(T? View, CacheTiming Timing)> GetAsync<T, TState>(
        string isdn, TState state, RedisGate gate, ApiMetrics metrics, SingleFlight<T?> flight,
        Func<TState, Task<T?>> readRedis,
        Func<string, (TState State, bool Fill), CancellationToken, Task<T?>> load,
        CancellationToken ct) where T : class
    {
        var timing = new CacheTiming();
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
        return (loaded, timing);
    }
}
