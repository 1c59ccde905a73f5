using System.ComponentModel.DataAnnotations;

namespace Ut360.Api.Infrastructure;

/// Settings of the API itself ("Api" section).
public sealed class ApiOptions
{
    /// Secret that signs paging cursors (any text, ≥ 16 characters). When empty a random one is
    /// drawn at start, so cursors then do not survive a restart.
    public string? CursorKey { get; set; }

    /// The cluster ids a client may ask for (UC4); anything else is a 400.
    [MinLength(1)]
    public int[] Clusters { get; set; } = [0, 1, 2, 3];

    [Range(1, 100_000)]
    public int BulkMaxIsdns { get; set; } = 10_000;

    /// Largest bulk request body in bytes (10,000 ISDNs of 24 characters are ~300 KB as JSON).
    [Range(1_024, 64 * 1024 * 1024)]
    public long BulkMaxBodyBytes { get; set; } = 2 * 1024 * 1024;

    /// Requests per second each API key may make (token bucket), and its burst.
    [Range(1, 10_000_000)]
    public int RateLimitPerSecond { get; set; } = 20_000;

    [Range(1, 10_000_000)]
    public int RateLimitBurst { get; set; } = 40_000;

    /// Requests per second, and burst, of each client address for requests without a valid key
    /// (the OpenAPI document, the UI's page, 401s): a key guesser or a scraper is slowed down
    /// without touching keyed clients. Behind a proxy every client shares its address.
    [Range(1, 10_000_000)]
    public int AnonymousRateLimitPerSecond { get; set; } = 50;

    [Range(1, 10_000_000)]
    public int AnonymousRateLimitBurst { get; set; } = 100;

    /// Largest UC6 answer kept in Redis (structure G), in bytes of its JSON: a 10,000-ISDN
    /// answer is ~5 MB, and a campaign list is rarely sent twice within the hour.
    [Range(0, 64 * 1024 * 1024)]
    public int BulkCacheMaxBytes { get; set; } = 1024 * 1024;

    /// Bytes of UC6 answers all instances together may store per clock hour (an answer lives
    /// an hour, so at most twice this is held at once): structure G shares the volatile-lru
    /// memory budget with the records, and a burst of distinct lists must not evict them.
    [Range(0, long.MaxValue)]
    public long BulkCacheBudgetBytes { get; set; } = 64L * 1024 * 1024;
}

/// Redis access ("Redis" section): the key namespace and the fault budget.
public sealed class RedisOptions
{
    /// Key namespace; "ut360" in production, another one for tests on a shared server.
    [Required, RegularExpression("^[A-Za-z0-9_:.-]{1,64}$")]
    public string Namespace { get; set; } = "ut360";

    /// Per-command budget: a Redis slower than this counts as a failure and the request is
    /// served from PostgreSQL.
    [Range(10, 30_000)]
    public int TimeoutMs { get; set; } = 250;

    /// <summary>Commands within one second that, when half of them fail with a Redis fault, open
    /// the circuit (Polly's MinimumThroughput, at least 2; see RedisCircuit).</summary>
    [Range(1, 1000)]
    public int BreakerFailures { get; set; } = 3;

    /// <summary>Milliseconds the circuit stays open before one request probes Redis.</summary>
    [Range(50, 600_000)]
    public int BreakerOpenMs { get; set; } = 2_000;
}

/// The "ConnectionStrings" section: both servers must be named; nothing falls back to a
/// local default in a deployed service.
public sealed class ConnectionStringOptions
{
    /// Npgsql connection string of the PostgreSQL database (the source of truth).
    [Required(ErrorMessage = "ConnectionStrings:Postgres is not set (environment variable ConnectionStrings__Postgres): the Npgsql connection string of the PostgreSQL database.")]
    public string? Postgres { get; set; }

    /// StackExchange.Redis configuration string of the Redis/Valkey cache.
    [Required(ErrorMessage = "ConnectionStrings:Redis is not set (environment variable ConnectionStrings__Redis): the StackExchange.Redis configuration of the Redis server.")]
    public string? Redis { get; set; }
}

/// The "Ut360" section: the ISDN cipher key (32, 48 or 64 hex digits). Required in
/// Production; elsewhere empty means the demo key of the repository, with a warning.
public sealed class Ut360Options
{
    public const string KeyRequired = "Ut360:IsdnKey is not set (environment variable Ut360__IsdnKey): in Production the ISDN key "
        + "must be given (32, 48 or 64 hex digits), never the public demo key by default. For demo data pass the demo key explicitly, as `./ut360 up` does.";

    [RegularExpression("^([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})?$",
        ErrorMessage = "Ut360:IsdnKey must be 32, 48 or 64 hex digits.")]
    public string? IsdnKey { get; set; }
}
