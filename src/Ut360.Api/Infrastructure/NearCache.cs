using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Caching.Memory;
using ZiggyCreatures.Caching.Fusion;

namespace Ut360.Api.Infrastructure;

/// <summary>
/// "NearCache" section: the in-process copy of records read from Redis (docs/api-design.md,
/// "Freshness and the near cache"). 0 entries turns a cache off, and with it the coalescing of
/// concurrent misses on one key (FusionCache's stampede protection).
/// </summary>
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

/// <summary>
/// The in-process level in front of Redis for one kind of record: a FusionCache over a
/// MemoryCache bounded to the configured number of entries (docs/api-design.md, "Near cache").
/// FusionCache gives stampede protection (concurrent misses on one key run one read), factory
/// timeouts and fail-safe (an entry past its age is still served when Redis and PostgreSQL both
/// fail to answer); it has no distributed level, so it never writes a key of its own to Redis.
/// </summary>
/// <remarks>
/// What no library does is the sync generation: every key carries the generation it was read in
/// (<see cref="Key(string)"/>), and <see cref="Invalidate"/> starts a new one. An entry read from
/// Redis before a sync finished is stored under the old generation's key, so it is never served
/// after the sync, even when it is stored after the clear. Capacity 0 turns the level off:
/// <see cref="Cache"/> is null and every read goes to Redis.
/// </remarks>
public sealed class NearCache<T> : IDisposable where T : class
{
    readonly MemoryCache? _memory;
    long _generation;
    string _prefix = "0:";

    /// <param name="name">The cache's name in FusionCache's traces and metrics.</param>
    /// <param name="capacity">Entries held; each counts its <see cref="FusionCacheEntryOptions.Size"/> (1 unless set).</param>
    /// <param name="maxAge">Longest an entry is served without being read again (NearCache:MaxAgeSeconds).</param>
    public NearCache(string name, int capacity, TimeSpan maxAge)
    {
        if (capacity <= 0)
            return;
        _memory = new MemoryCache(new MemoryCacheOptions { SizeLimit = capacity, CompactionPercentage = 0.1 });
        // No logger: with one, FusionCache makes an operation id for every read, hits included
        // (UC1's hot path). A failing read is the request's own error (a 503), logged there.
        Cache = new FusionCache(new FusionCacheOptions
        {
            CacheName = name,
            // Clear is the generation's job (Invalidate); tags would cost every read a lookup.
            DisableTagging = true,
            DefaultEntryOptions = new FusionCacheEntryOptions
            {
                Duration = maxAge,
                Size = 1,
                // Both stores down: an entry past its age answers rather than a 503, for up to
                // an hour, asking again at most every 5 s.
                IsFailSafeEnabled = true,
                FailSafeMaxDuration = maxAge + TimeSpan.FromHours(1),
                FailSafeThrottleDuration = TimeSpan.FromSeconds(5),
                // A read that outlives the soft timeout answers with the old entry (when there is
                // one) and finishes in the background; none outlives the hard one.
                FactorySoftTimeout = TimeSpan.FromMilliseconds(100),
                FactoryHardTimeout = TimeSpan.FromSeconds(10),
            },
        }, _memory);
    }

    /// <summary>The in-process level, or null when its capacity is 0.</summary>
    public FusionCache? Cache { get; }

    public bool Enabled => Cache is not null;

    /// <summary>The current generation: what <see cref="Key(string, string)"/> takes.</summary>
    public string Generation => Volatile.Read(ref _prefix);

    /// <summary>The cache key of <paramref name="id"/> in the current generation.</summary>
    public string Key(string id) => string.Concat(Volatile.Read(ref _prefix), id);

    /// <summary>The cache key of <paramref name="id"/> in <paramref name="generation"/>, taken before a read started.</summary>
    public static string Key(string generation, string id) => string.Concat(generation, id);

    /// <summary>
    /// The entry under <paramref name="key"/>, else what <paramref name="read"/> returns, stored;
    /// concurrent misses on one key wait for the first one's read and share what it stored
    /// (FusionCache's stampede protection). An unknown record (null) is kept 1 s and never past
    /// that (no fail-safe): a flood of one unknown ISDN reads once a second, a flood of many does
    /// not crowd out the records.
    /// </summary>
    /// <returns>The record, where it came from (Near when another call's read answered), and
    /// whether this call ran <paramref name="read"/> (false: coalesced).</returns>
    /// <exception cref="InvalidOperationException">The near cache is off (<see cref="Enabled"/> is false).</exception>
    public async Task<(T? Value, CacheTiming Timing, bool Read)> GetOrReadAsync(
        string key, Func<CancellationToken, Task<(T? Value, CacheTiming Timing)>> read, CancellationToken ct)
    {
        var cache = Cache ?? throw new InvalidOperationException("The near cache is off.");
        var timing = new CacheTiming { Outcome = CacheOutcome.Near };
        var ran = false;
        var value = await cache.GetOrSetAsync<T?>(key, async (ctx, token) =>
        {
            ran = true;
            (var found, timing) = await read(token);
            if (found is null)
                ctx.Options.SetDuration(UnknownFor).SetFailSafe(false);
            return found;
        }, token: ct);
        return (value, timing, ran);
    }

    static readonly TimeSpan UnknownFor = TimeSpan.FromSeconds(1);

    /// <summary>Entries currently held, of every generation.</summary>
    public long Count => _memory?.Count ?? 0;

    /// <summary>Starts a new generation and drops every entry.</summary>
    public void Invalidate()
    {
        var generation = Interlocked.Increment(ref _generation);
        Volatile.Write(ref _prefix, string.Create(CultureInfo.InvariantCulture, $"{generation}:"));
        _memory?.Clear();
    }

    public void Dispose()
    {
        Cache?.Dispose();
        _memory?.Dispose();
    }
}
