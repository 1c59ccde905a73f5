using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Api.Infrastructure;

/// "NearCache" section: the in-process copy of records read from Redis (docs/api-design.md,
/// "Near cache"). 0 entries turns a cache off.
public sealed class NearCacheOptions
{
    /// Recommendations held (≈ 1.4 KB each once UC6 has kept their JSON): the default holds the
    /// whole default dataset, so UC1 on a warm service never leaves the process.
    [Range(0, 10_000_000)]
    public int Recommendations { get; set; } = 262_144;

    /// Profiles held (≈ 4 KB each as parsed objects): the recently opened 360 views.
    [Range(0, 10_000_000)]
    public int Profiles { get; set; } = 32_768;

    /// UC2 pages held (the ISDNs and scores of a ZREVRANGE, with the ZCARD), counted in
    /// members: a page of 100 counts 100. The sorted sets change only when a sync or a dual
    /// write finishes, which clears this cache as it clears the others.
    [Range(0, 10_000_000)]
    public int Pages { get; set; } = 262_144;

    /// Longest an entry is served without being read from Redis again. Syncs and dual writes
    /// clear the cache as soon as they finish, so this only bounds writes made behind the
    /// system's back (a hand-edited key).
    [Range(1, 86_400)]
    public int MaxAgeSeconds { get; set; } = 600;

    /// How often ut360:meta:stats is checked for a finished sync, in case its announcement on
    /// the events channel was missed (a reconnect).
    [Range(50, 60_000)]
    public int PollMs { get; set; } = 1_000;
}

/// A bounded in-process cache of decoded records in front of Redis. Every entry carries the
/// generation it was read in; Invalidate() starts a new generation, so an entry read from Redis
/// before a sync finished is never served after it, even when it is stored after the clear.
public sealed class NearCache<T> : IDisposable where T : class
{
    readonly MemoryCache? _cache;
    readonly TimeSpan _maxAge;
    long _generation;

    public NearCache(int capacity, TimeSpan maxAge)
    {
        _maxAge = maxAge;
        if (capacity > 0)
            _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = capacity, CompactionPercentage = 0.1 });
    }

    public bool Enabled => _cache is not null;
    public long Generation => Volatile.Read(ref _generation);
    public int Count => _cache?.Count ?? 0;

    public bool TryGet(string isdn, out T value)
    {
        if (_cache is not null && _cache.TryGetValue(isdn, out Entry? e) && e!.Generation == Generation)
        {
            value = e.Value;
            return true;
        }
        value = null!;
        return false;
    }

    /// Stores what was read from Redis or PostgreSQL; `generation` is Generation as it was
    /// before that read started; `size` is what the entry counts against the capacity.
    public void Set(string isdn, T value, long generation, int size = 1)
    {
        if (_cache is null || generation != Generation)
            return;
        using var entry = _cache.CreateEntry(isdn);
        entry.Value = new Entry(value, generation);
        entry.Size = Math.Max(1, size);
        entry.AbsoluteExpirationRelativeToNow = _maxAge;
    }

    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        _cache?.Clear();
    }

    public void Dispose() => _cache?.Dispose();

    sealed record Entry(T Value, long Generation);
}

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
                if (RedisGate.IsRedisFault(e) || e is OperationCanceledException)
                    logger.LogDebug(e, "Near cache: Redis unavailable for the meta check");
                else
                    logger.LogWarning(e, "Near cache: the meta check failed");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
