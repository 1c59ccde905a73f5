using System.Diagnostics;
using System.Globalization;

namespace Ut360.Api.Infrastructure;

/// Near: answered from the in-process near cache (reported as a hit).
public enum CacheOutcome { Near = -1, Hit = 0, Miss = 1, Fallback = 2 }

/// Where a response came from and what it cost: X-Cache (hit | miss) and Server-Timing
/// (redis, pg, in milliseconds). A fallback (Redis unavailable) is reported as a miss.
public struct CacheTiming
{
    long _redisTicks, _pgTicks;

    public CacheOutcome Outcome { get; set; }

    public void AddRedis(long startTimestamp) => _redisTicks += Stopwatch.GetTimestamp() - startTimestamp;
    public void AddPostgres(long startTimestamp) => _pgTicks += Stopwatch.GetTimestamp() - startTimestamp;

    /// Adds another step's costs; the outcome is the worse of the two (a hit only if both hit).
    public void Merge(CacheTiming other)
    {
        _redisTicks += other._redisTicks;
        _pgTicks += other._pgTicks;
        if (other.Outcome > Outcome)
            Outcome = other.Outcome;
    }

    public readonly void Apply(HttpResponse response)
    {
        response.Headers["X-Cache"] = Outcome <= CacheOutcome.Hit ? "hit" : "miss";
        response.Headers["Server-Timing"] = Outcome == CacheOutcome.Near && _redisTicks == 0 && _pgTicks == 0
            ? NearTiming
            : _pgTicks == 0
            ? string.Create(CultureInfo.InvariantCulture, $"redis;dur={Ms(_redisTicks):0.###}")
            : string.Create(CultureInfo.InvariantCulture, $"redis;dur={Ms(_redisTicks):0.###}, pg;dur={Ms(_pgTicks):0.###}");
    }

    const string NearTiming = "near;desc=\"in-process\"";

    static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
