using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Api.Infrastructure;

/// Clears the near caches when the data in Redis changes: at once on the events channel
/// (SyncEngine announces every finished sync and dual write), and within PollMs by watching
/// the sync fields of ut360:meta:stats, in case an announcement was missed (a reconnect).
///
/// A reconnect alone clears nothing. What the caches hold was read from PostgreSQL or from a
/// published version, and only a sync or a dual write changes either; one that finished while
/// the announcement could not arrive changed the meta, which the next check sees. Clearing on
/// every reconnect sent the whole working set to PostgreSQL at once when Redis restarted empty
/// (bench/faults.sh: UC5 took 6.7 s to come back to its usual latency).
public sealed class NearCacheInvalidator(
    IConnectionMultiplexer redis, RedisKeys keys, IOptions<NearCacheOptions> options, ApiMetrics metrics,
    NearCache<Recommendations.RecommendationView> recs, NearCache<Profiles.ProfileView> profiles,
    NearCache<Segments.SegmentReader.Ranked> pages, ILogger<NearCacheInvalidator> logger) : BackgroundService
{
    static readonly RedisValue[] Watched = ["sync_id", "sync_duration_ms", "last_updated"];

    public void InvalidateAll()
    {
        recs.Invalidate();
        profiles.Invalidate();
        pages.Invalidate();
        metrics.NearInvalidation();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!recs.Enabled && !profiles.Enabled && !pages.Enabled)
            return;
        var subscribed = false;
        string? seen = null;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.PollMs));
        do
        {
            try
            {
                if (!subscribed)
                {
                    await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(keys.Events), (_, _) => InvalidateAll());
                    subscribed = true;
                }
                var values = await redis.GetDatabase().HashGetAsync(keys.MetaStats, Watched);
                // No meta (a Redis restarted empty) is no news: the sync that refills Redis
                // writes a new sync_id, and that change is what clears.
                if (values.All(v => v.IsNull))
                    continue;
                var now = string.Join('|', values.Select(v => v.ToString()));
                if (seen is not null && now != seen)
                    InvalidateAll();
                seen = now;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Whatever the fault (a stalled Redis surfaces as a cancelled task, not only as a
                // Redis exception), the check is retried on the next tick and the entries stay:
                // a sync cannot finish without Redis, and the first check that answers again
                // compares with what was seen before the fault.
                if (RedisCircuit.IsRedisFault(e) || e is OperationCanceledException)
                    logger.LogDebug(e, "Near cache: Redis unavailable for the meta check");
                else
                    logger.LogWarning(e, "Near cache: the meta check failed");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
