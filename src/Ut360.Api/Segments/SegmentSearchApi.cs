using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Api.Recommendations;
using Ut360.Data.Domain;
using Ut360.Data.Redis;

namespace Ut360.Api.Segments;

/// Campaign segments: recommendations filtered by any subset of service × risk × cluster ×
/// minimum priority, by descending priority_score, with the exact total; and their export.
public static class SegmentSearchApi
{
    public static IEndpointRouteBuilder MapSegmentSearch(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/segments", Search)
            .WithTags("Segments").RequireAuthorization(Roles.Analyst)
            .WithName("SearchSegment")
            .WithSummary("Campaign segment: recommendations matching any subset of service, risk, cluster and min_priority, by descending priority_score, with the exact total");
        app.MapGet("/api/v1/segments/export", Export)
            .WithTags("Exports").RequireAuthorization(Roles.Campaign)
            .WithName("ExportSegment")
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(string), ["text/csv"]))
            .WithSummary("Campaign export of a segment: every matching recommendation with its columns, as CSV (UTF-8 BOM), streamed");
        return app;
    }

    /// <summary>One page of a segment.</summary>
    /// <returns>200 with <see cref="SegmentSearchPage"/>; 400 naming the field (service, risk,
    /// cluster, min_priority, offset, limit, store) that is not valid.</returns>
    public static async Task<Results<SegmentSearchResult, ValidationProblem>> Search(
        [FromQuery] string? service, [FromQuery] string? risk, [FromQuery] string? cluster,
        [FromQuery(Name = "min_priority")] string? minPriority, [FromQuery] string? offset, [FromQuery] string? limit,
        [FromQuery] string? store, IConnectionMultiplexer redis, NpgsqlDataSource db, RedisKeys keys, RedisCircuit circuit,
        RecommendationStore records, IOptions<ApiOptions> options, HttpContext http, CancellationToken ct)
    {
        if (ParseFilter(service, risk, cluster, minPriority, options.Value) is not { } filter)
            return FilterProblem(service, risk, cluster, options.Value);
        if (!TryParse(offset, 0, 0, SegmentsApi.MaxOffset, out var from))
            return Validation.Problem("offset", $"Expected an integer from 0 to {SegmentsApi.MaxOffset}.");
        if (!TryParse(limit, 100, 1, SegmentsApi.MaxLimit, out var size))
            return Validation.Problem("limit", $"Expected an integer from 1 to {SegmentsApi.MaxLimit}.");
        SegmentStore? prefer = store switch
        {
            null or "" => null,
            "redis" => SegmentStore.Redis,
            "postgres" => SegmentStore.Postgres,
            _ => (SegmentStore)(-1),
        };
        if (prefer == (SegmentStore)(-1))
            return Validation.Problem("store", "Expected redis or postgres (for comparing the two; leave it out to let the service choose).");

        var ids = await SegmentSearch.PageAsync(filter, from, (int)size, prefer, redis, db, keys, circuit, ct);
        var (views, timing, _) = await records.GetManyAsync(ids.Isdns, ct);
        var t = ids.Timing;
        t.Merge(timing);
        t.Apply(http.Response);
        http.Response.Headers["X-Segment-Store"] = ids.Store == SegmentStore.Redis ? "redis" : "postgres";
        return new SegmentSearchResult(filter, ids.Total, from, (int)size, ids.Store, views);
    }

    /// <summary>The whole segment as CSV: a UTF-8 BOM, a header, one row per recommendation
    /// (the columns of <see cref="RecommendationCsv.Columns"/>) by descending priority_score.</summary>
    public static Results<PushStreamHttpResult, ValidationProblem> Export(
        [FromQuery] string? service, [FromQuery] string? risk, [FromQuery] string? cluster,
        [FromQuery(Name = "min_priority")] string? minPriority, NpgsqlDataSource db, RecommendationStore records,
        IOptions<ApiOptions> options, CancellationToken ct)
    {
        if (ParseFilter(service, risk, cluster, minPriority, options.Value) is not { } filter)
            return FilterProblem(service, risk, cluster, options.Value);
        var name = "segment" + (filter.ToString() is { Length: > 0 } f ? "-" + f.Replace(' ', '-').Replace('=', '-') : "") + ".csv";
        return TypedResults.Stream(body => RecommendationCsv.WriteAsync(IdBatchesAsync(filter, db, ct), records, body, ct),
            "text/csv; charset=utf-8", name);
    }

    /// The segment's ISDNs in the order of its pages, read by one streaming query from
    /// PostgreSQL, the source of truth (an export takes longer than an intersection is kept).
    static async IAsyncEnumerable<List<string>> IdBatchesAsync(SegmentFilter filter, NpgsqlDataSource db, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT isdn FROM recommendations WHERE {filter.Where} ORDER BY {SegmentSearch.OrderBy}");
        filter.AddParameters(cmd.Parameters);
        await foreach (var batch in RecommendationCsv.IsdnBatchesAsync(cmd, ct))
            yield return batch;
    }

    static SegmentFilter? ParseFilter(string? service, string? risk, string? cluster, string? minPriority, ApiOptions options)
    {
        service = Empty(service);
        risk = Empty(risk);
        if (service is not null && !Vocabulary.IsServiceType(service))
            return null;
        if (risk is not null && !Vocabulary.IsRiskLevel(risk))
            return null;
        int? clusterId = null;
        if (Empty(cluster) is { } c)
        {
            if (!int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || Array.IndexOf(options.Clusters, id) < 0)
                return null;
            clusterId = id;
        }
        decimal? min = null;
        if (Empty(minPriority) is { } m)
        {
            if (!decimal.TryParse(m, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value > 100 || value.Scale > 2)
                return null;
            min = value;
        }
        return new SegmentFilter(service, risk, clusterId, min);
    }

    /// Names the first filter that is not valid (ParseFilter checks them in this order).
    static ValidationProblem FilterProblem(string? service, string? risk, string? cluster, ApiOptions options)
    {
        if (Empty(service) is { } s && !Vocabulary.IsServiceType(s))
            return Validation.Problem("service", Validation.ServiceMessage);
        if (Empty(risk) is { } r && !Vocabulary.IsRiskLevel(r))
            return Validation.Problem("risk", Validation.RiskMessage);
        if (Empty(cluster) is { } c && (!int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || Array.IndexOf(options.Clusters, id) < 0))
            return Validation.Problem("cluster", $"Unknown cluster; one of: {string.Join(", ", options.Clusters)}.");
        return Validation.Problem("min_priority", "Expected a priority score from 0 to 100 with at most two decimals.");
    }

    static string? Empty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    static bool TryParse(string? text, long fallback, long min, long max, out long value)
    {
        if (string.IsNullOrEmpty(text))
        {
            value = fallback;
            return true;
        }
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
    }
}

/// <summary>docs/api.md, campaign segments: the filters applied (absent ones omitted), the
/// exact number of matching recommendations, the page's bounds, where it was read from
/// (<c>redis</c> or <c>postgres</c>) and the recommendations by descending priority_score.</summary>
public sealed record SegmentSearchPage(
    string? ServiceType, string? RiskLevel, int? Cluster, decimal? MinPriority,
    long Total, long Offset, int Limit, string Source, IReadOnlyList<RecommendationView> Items);

/// Writes a SegmentSearchPage from each record's kept JSON instead of serialising it again.
public sealed class SegmentSearchResult(
    SegmentFilter filter, long total, long offset, int limit, SegmentStore store, RecommendationView?[] views) : IResult, IEndpointMetadataProvider
{
    public long Total => total;

    public async Task ExecuteAsync(HttpContext http)
    {
        http.Response.ContentType = "application/json; charset=utf-8";
        var writer = new Utf8JsonWriter(http.Response.BodyWriter, new JsonWriterOptions { Encoder = ApiJson.Web.Options.Encoder, SkipValidation = true });
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            if (filter.Service is { } s)
                writer.WriteString("service_type"u8, s);
            if (filter.Risk is { } r)
                writer.WriteString("risk_level"u8, r);
            if (filter.Cluster is { } c)
                writer.WriteNumber("cluster"u8, c);
            if (filter.MinPriority is { } m)
                writer.WriteNumber("min_priority"u8, m);
            writer.WriteNumber("total"u8, total);
            writer.WriteNumber("offset"u8, offset);
            writer.WriteNumber("limit"u8, limit);
            writer.WriteString("source"u8, store == SegmentStore.Redis ? "redis"u8 : "postgres"u8);
            writer.WriteStartArray("items"u8);
            foreach (var view in views)
                if (view is not null) // in the index but gone from PostgreSQL: a sync will drop it
                    writer.WriteRawValue(view.Utf8Json().Span, skipInputValidation: true);
            writer.WriteEndArray();
            writer.WriteEndObject();
            await writer.FlushAsync(http.RequestAborted);
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(SegmentSearchPage), ["application/json"]));
}
