using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Ut360.Api.Infrastructure;

/// A circuit breaker in front of Redis. Closed: every request tries Redis. After
/// `BreakerFailures` consecutive failures (errors or commands slower than the timeout budget)
/// it opens and requests go straight to PostgreSQL; after `BreakerOpenMs` one request probes
/// Redis (half-open) and its outcome closes or re-opens the circuit. Hand-written rather than a
/// Polly pipeline because it sits on the hottest path: the closed state costs two volatile reads
/// and no allocation.
public sealed class RedisGate(IOptions<RedisOptions> options, IConnectionMultiplexer redis, ApiMetrics metrics)
{
    readonly int _threshold = options.Value.BreakerFailures;
    readonly long _openTicks = TimeSpan.FromMilliseconds(options.Value.BreakerOpenMs).Ticks;
    int _failures;
    long _openUntil;   // 0 = closed; otherwise the time after which one probe may pass

    public bool IsOpen => Volatile.Read(ref _openUntil) != 0;

    /// True when this request may use Redis.
    public bool Allow()
    {
        var until = Volatile.Read(ref _openUntil);
        if (until == 0)
        {
            if (redis.IsConnected)
                return true;
            // Not connected: no point waiting for a timeout on every request.
            Open();
            return false;
        }
        var now = DateTime.UtcNow.Ticks;
        if (now < until || !redis.IsConnected)
            return false;
        // Half-open: the request that moves the window on is the probe; if it never reports
        // back, another one probes when this new window ends.
        return Interlocked.CompareExchange(ref _openUntil, now + _openTicks, until) == until;
    }

    public void Success()
    {
        if (Volatile.Read(ref _failures) != 0)
            Volatile.Write(ref _failures, 0);
        if (Volatile.Read(ref _openUntil) != 0)
            Volatile.Write(ref _openUntil, 0);
    }

    public void Failure()
    {
        metrics.RedisFailure();
        if (Interlocked.Increment(ref _failures) >= _threshold)
            Open();
    }

    void Open()
    {
        Interlocked.Increment(ref _failures);
        Volatile.Write(ref _openUntil, DateTime.UtcNow.Ticks + _openTicks);
    }

    /// Exceptions that mean "Redis is unavailable", as opposed to a bug.
    public static bool IsRedisFault(Exception e) => e switch
    {
        RedisConnectionException or RedisTimeoutException or TimeoutException or ObjectDisposedException => true,
        RedisServerException s => s.Message.StartsWith("LOADING", StringComparison.Ordinal)
            || s.Message.StartsWith("BUSY", StringComparison.Ordinal) || s.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
            || s.Message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal) || s.Message.StartsWith("OOM", StringComparison.Ordinal)
            || s.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal),
        AggregateException a => a.InnerException is { } inner && IsRedisFault(inner),
        _ => false,
    };
}
