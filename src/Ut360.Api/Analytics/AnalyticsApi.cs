using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Redis;

namespace Ut360.Api.Analytics;

/// The design's analytics patterns, computed in PostgreSQL (aggregates over all rows are what it
/// is for), and the dataset meta stats (ut360:meta:stats, else the same figures counted in PostgreSQL).
public static class AnalyticsApi
{
    public static IEndpointRouteBuilder MapAnalytics(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Analytics").RequireAuthorization(Roles.Analyst);
        api.MapGet("/analytics/services", RevenueByService).WithName("RevenueByService").WithSummary("Pattern 7: revenue by service");
        api.MapGet("/analytics/risk", RiskDistribution).WithName("RiskDistribution").WithSummary("Pattern 8: risk distribution by service");
        api.MapGet("/analytics/clusters", Clusters).WithName("ClusterFigures").WithSummary("Per-cluster counts and averages");
        api.MapGet("/stats", Stats).WithName("MetaStats").WithSummary("Dataset totals (ut360:meta:stats, or the same figures counted in PostgreSQL when Redis lacks them)");
        return app;
    }

    const string Pattern7 = """
        SELECT service_type, COUNT(*) AS total_count, SUM(advance_amount) AS total_advance,
               SUM(revenue_per_advance) AS total_revenue, AVG(customer_value_score) AS avg_value_score
          FROM recommendations
         GROUP BY service_type
         ORDER BY service_type
        """;

    const string Pattern8 = """
        SELECT service_type, bad_debt_risk, COUNT(*) AS count, AVG(advance_amount) AS avg_advance
          FROM recommendations
         GROUP BY service_type, bad_debt_risk
         ORDER BY service_type, bad_debt_risk
        """;

    const string ClusterSql = """
        SELECT r.cluster_group, min(p.cluster_label) AS cluster_label, COUNT(*) AS count,
               AVG(r.advance_amount) AS avg_advance, AVG(r.customer_value_score) AS avg_customer_value,
               AVG(r.advance_readiness_score) AS avg_advance_readiness
          FROM recommendations r
          LEFT JOIN subscriber_360_profiles p ON p.isdn = r.isdn
         GROUP BY r.cluster_group
         ORDER BY r.cluster_group NULLS LAST
        """;

    const string LatestLoadSql = "SELECT data_version, finished_at FROM data_loads WHERE outcome = 'succeeded' ORDER BY finished_at DESC NULLS LAST LIMIT 1";

    public static async Task<Ok<ServiceRevenue[]>> RevenueByService(NpgsqlDataSource db, ApiMetrics metrics, CancellationToken ct)
    {
        metrics.PostgresRead();
        var rows = new List<ServiceRevenue>();
        await using var cmd = db.CreateCommand(Pattern7);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            rows.Add(new ServiceRevenue(r.GetString(0), r.GetInt64(1), Round(r.GetDecimal(2)), Round(r.GetDecimal(3)), Round(Dec(r, 4))));
        return TypedResults.Ok(rows.ToArray());
    }

    public static async Task<Ok<RiskBucket[]>> RiskDistribution(NpgsqlDataSource db, ApiMetrics metrics, CancellationToken ct)
    {
        metrics.PostgresRead();
        var rows = new List<RiskBucket>();
        await using var cmd = db.CreateCommand(Pattern8);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            rows.Add(new RiskBucket(r.GetString(0), r.GetString(1), r.GetInt64(2), Round(Dec(r, 3))));
        return TypedResults.Ok(rows.ToArray());
    }

    public static async Task<Ok<ClusterFigures[]>> Clusters(NpgsqlDataSource db, ApiMetrics metrics, CancellationToken ct)
    {
        metrics.PostgresRead();
        var rows = new List<ClusterFigures>();
        await using var cmd = db.CreateCommand(ClusterSql);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            rows.Add(new ClusterFigures(r.IsDBNull(0) ? null : r.GetInt32(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetInt64(2),
                Round(Dec(r, 3)), Round(Dec(r, 4)), Round(Dec(r, 5))));
        return TypedResults.Ok(rows.ToArray());
    }

    public static async Task<Ok<MetaStats>> Stats(
        IConnectionMultiplexer redis, RedisKeys keys, RedisCircuit circuit, NpgsqlDataSource db, ApiMetrics metrics, HttpContext http, CancellationToken ct)
    {
        var timing = new CacheTiming();
        var start = Stopwatch.GetTimestamp();
        var (answered, entries) = await circuit.TryAsync(static s => s.Database.HashGetAllAsync(s.MetaStats), (Database: redis.GetDatabase(), keys.MetaStats), ct);
        if (answered && entries.Length > 0)
        {
            timing.AddRedis(start);
            metrics.Hit();
            timing.Outcome = CacheOutcome.Hit;
            timing.Apply(http.Response);
            return TypedResults.Ok(MetaStats.FromRedis(entries));
        }
        if (answered)
            timing.AddRedis(start);
        timing.Outcome = metrics.NotInRedis(answered);

        var pgStart = Stopwatch.GetTimestamp();
        metrics.PostgresRead();
        var stats = await FromPostgresAsync(db, ct);
        timing.AddPostgres(pgStart);
        timing.Apply(http.Response);
        return TypedResults.Ok(stats);
    }

    // The figures of the meta, computed by the same code from the same tables (the sync's
    // Data.Sync.MetaStats) and written out through the same hash, so each field has one
    // definition whichever source answers: total_revenue_potential is the sum of the profiles'
    // revenue_potential, last_updated the UTC time the data was last updated in the meta's
    // format (here the end of the last succeeded load; in Redis the sync's publish).
    static async Task<MetaStats> FromPostgresAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        var counted = await Ut360.Data.Sync.MetaStats.FromPostgresAsync(conn, ct);
        string? version = null;
        DateTime? finished = null;
        await using (var cmd = new NpgsqlCommand(LatestLoadSql, conn, tx))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            if (await r.ReadAsync(ct))
                (version, finished) = (r.GetString(0), r.IsDBNull(1) ? null : r.GetDateTime(1));
        }
        if (counted.Subscribers == 0 && version is null)
            return new MetaStats(0, 0, 0, 0, 0, 0, 0, null, null, null, null, "none");
        var updated = finished is { } f ? new DateTimeOffset(DateTime.SpecifyKind(f, DateTimeKind.Utc)) : DateTimeOffset.UtcNow;
        var hash = counted.ToHash(version ?? "", updated, 0, "postgres", null);
        return MetaStats.FromRedis(hash) with { DataVersion = version, Source = "postgres" };
    }

    static decimal? Dec(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDecimal(i);
    static decimal Round(decimal d) => RecordCodec.Trim(Math.Round(d, 2))!.Value;
    static decimal? Round(decimal? d) => d is { } v ? Round(v) : null;
}

public sealed record ServiceRevenue(string ServiceType, long TotalCount, decimal TotalAdvance, decimal TotalRevenue, decimal? AvgValueScore);
public sealed record RiskBucket(string ServiceType, string BadDebtRisk, long Count, decimal? AvgAdvance);
public sealed record ClusterFigures(int? ClusterGroup, string? ClusterLabel, long Count, decimal? AvgAdvance, decimal? AvgCustomerValue, decimal? AvgAdvanceReadiness);

/// The design's structure F, typed. `source`: redis, postgres (counted by the sync's own code) or none.
public sealed record MetaStats(
    long TotalSubscribers, long TotalEasycredit, long TotalMbfg, long TotalUngsanluong,
    long TotalLowRisk, long TotalMediumRisk, long TotalHighRisk,
    decimal? AvgAdvanceAmount, decimal? TotalRevenuePotential, string? LastUpdated, string? DataVersion, string Source)
{
    public static MetaStats FromRedis(IEnumerable<HashEntry> entries)
    {
        var f = entries.ToDictionary(e => (string)e.Name!, e => (string?)e.Value, StringComparer.Ordinal);
        long L(string name) => long.TryParse(f.GetValueOrDefault(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;
        decimal? D(string name) => decimal.TryParse(f.GetValueOrDefault(name), NumberStyles.Number, CultureInfo.InvariantCulture, out var v) ? v : null;
        return new MetaStats(L("total_subscribers"), L("total_easycredit"), L("total_mbfg"), L("total_ungsanluong"),
            L("total_low_risk"), L("total_medium_risk"), L("total_high_risk"), D("avg_advance_amount"), D("total_revenue_potential"),
            f.GetValueOrDefault("last_updated"), f.GetValueOrDefault("data_version"), "redis");
    }
}
