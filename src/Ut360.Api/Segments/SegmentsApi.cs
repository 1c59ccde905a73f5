using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Ut360.Api.Infrastructure;
using Ut360.Api.Recommendations;
using Ut360.Data.Domain;
using Ut360.Data.Redis;

namespace Ut360.Api.Segments;

/// UC2 (by service, by priority), UC3 (by risk level), UC4 (by cluster), and the campaign
/// exports of each list.
public static class SegmentsApi
{
    public const int MaxLimit = 1_000;
    public const long MaxOffset = 10_000_000;

    public static IEndpointRouteBuilder MapSegments(this IEndpointRouteBuilder app)
    {
        var lists = app.MapGroup("/api/v1").WithTags("Segments").RequireAuthorization(Roles.Analyst);
        lists.MapGet("/services/{type}/recommendations", GetByService)
            .WithName("GetServiceRecommendations")
            .WithSummary("UC2: recommendations of one service type by descending priority, with the total");
        lists.MapGet("/risk/{level}/subscribers", GetByRisk)
            .WithName("GetRiskSubscribers")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("UC3: subscribers of one risk level, paged with an opaque cursor (SSCAN)");
        lists.MapGet("/clusters/{id}/subscribers", GetByCluster)
            .WithName("GetClusterSubscribers")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("UC4: subscribers of one cluster, paged with an opaque cursor (SSCAN)");

        var exports = app.MapGroup("/api/v1").WithTags("Exports").RequireAuthorization(Roles.Campaign)
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(string), ["text/csv", "application/x-ndjson"]))
            .ProducesProblem(StatusCodes.Status409Conflict);
        exports.MapGet("/services/{type}/export", ExportService)
            .WithName("ExportService").WithSummary("Campaign export: every ISDN of a service with its priority score (columns=all: every column of the recommendation), streamed");
        exports.MapGet("/risk/{level}/export", ExportRisk)
            .WithName("ExportRisk").WithSummary("Campaign export: every ISDN of a risk level (columns=all: every column of the recommendation), streamed");
        exports.MapGet("/clusters/{id}/export", ExportCluster)
            .WithName("ExportCluster").WithSummary("Campaign export: every ISDN of a cluster (columns=all: every column of the recommendation), streamed");
        return app;
    }

    public static async Task<Results<ServicePageResult, ValidationProblem>> GetByService(
        string type, long? offset, int? limit, SegmentReader reader, RecommendationStore store, RedisKeys keys, HttpContext http, CancellationToken ct)
    {
        if (!Vocabulary.IsServiceType(type))
            return Validation.Problem("type", Validation.ServiceMessage);
        if (offset is < 0 or > MaxOffset)
            return Validation.Problem("offset", $"Expected 0 to {MaxOffset}.");
        if (limit is < 1 or > MaxLimit)
            return Validation.Problem("limit", $"Expected 1 to {MaxLimit}.");
        var (from, size) = (offset ?? 0, limit ?? 100);
        var range = await reader.RangeAsync(Segment.Service(keys, type), from, size, ct);
        var isdns = range.Items.ConvertAll(i => i.Isdn);
        var (views, timing, _) = await store.GetManyAsync(isdns, ct);
        var t = range.Timing;
        t.Merge(timing);
        t.Apply(http.Response);
        return new ServicePageResult(type, range.Total, from, size, views, range.Items);
    }

    public static Task<Results<Ok<SegmentPage>, ValidationProblem, ProblemHttpResult>> GetByRisk(
        string level, string? cursor, int? limit, bool? details, SegmentReader reader, RecommendationStore store, CursorSigner signer,
        RedisKeys keys, HttpContext http, CancellationToken ct)
    {
        if (!Vocabulary.IsRiskLevel(level))
            return Task.FromResult<Results<Ok<SegmentPage>, ValidationProblem, ProblemHttpResult>>(Validation.Problem("level", Validation.RiskMessage));
        return Page(Segment.Risk(keys, level), cursor, limit, details, reader, store, signer, http, ct);
    }

    public static Task<Results<Ok<SegmentPage>, ValidationProblem, ProblemHttpResult>> GetByCluster(
        string id, string? cursor, int? limit, bool? details, SegmentReader reader, RecommendationStore store, CursorSigner signer,
        RedisKeys keys, IOptions<ApiOptions> options, HttpContext http, CancellationToken ct)
    {
        if (ClusterId(id, options.Value) is not { } cluster)
            return Task.FromResult<Results<Ok<SegmentPage>, ValidationProblem, ProblemHttpResult>>(Validation.Problem("id", ClusterMessage(options.Value)));
        return Page(Segment.Cluster(keys, cluster), cursor, limit, details, reader, store, signer, http, ct);
    }

    static async Task<Results<Ok<SegmentPage>, ValidationProblem, ProblemHttpResult>> Page(
        Segment segment, string? cursorText, int? limit, bool? details, SegmentReader reader, RecommendationStore store,
        CursorSigner signer, HttpContext http, CancellationToken ct)
    {
        if (limit is < 1 or > MaxLimit)
            return Validation.Problem("limit", $"Expected 1 to {MaxLimit}.");
        if (!signer.TryDecode(segment.Id, cursorText, out var cursor))
            return Validation.Problem("cursor", "Not a cursor this list returned (cursors are opaque; pass next_cursor back unchanged).");
        var page = await reader.PageAsync(segment, cursor, limit ?? 100, ct);
        if (page.VersionChanged)
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The list changed since this traversal started",
                detail: "A sync or a load replaced the list after the first page; its later pages would mix two versions. Start again without a cursor.");
        var next = page.Next is { } n ? signer.Encode(segment.Id, n) : null;
        var timing = page.Timing;
        List<RecommendationView>? records = null;
        if (details == true)
        {
            var (views, t, _) = await store.GetManyAsync(page.Isdns, ct);
            timing.Merge(t);
            records = [.. views.OfType<RecommendationView>().Where(segment.Lists)];
        }
        timing.Apply(http.Response);
        return TypedResults.Ok(new SegmentPage(
            segment.Kind == SegmentKind.Risk ? segment.Value : null,
            segment.Kind == SegmentKind.Cluster ? int.Parse(segment.Value, CultureInfo.InvariantCulture) : null,
            page.Total, next,
            records is null ? page.Isdns.ConvertAll(object (i) => new IsdnItem(i)) : records.ConvertAll(object (r) => r)));
    }

    public static async Task<Results<PushStreamHttpResult, ValidationProblem>> ExportService(
        string type, string? format, string? columns, ExportWriter writer, RecommendationStore store, RedisKeys keys, CancellationToken ct)
    {
        if (!Vocabulary.IsServiceType(type))
            return Validation.Problem("type", Validation.ServiceMessage);
        return await Export(Segment.Service(keys, type), format, columns, writer, store, ct);
    }

    public static async Task<Results<PushStreamHttpResult, ValidationProblem>> ExportRisk(
        string level, string? format, string? columns, ExportWriter writer, RecommendationStore store, RedisKeys keys, CancellationToken ct)
    {
        if (!Vocabulary.IsRiskLevel(level))
            return Validation.Problem("level", Validation.RiskMessage);
        return await Export(Segment.Risk(keys, level), format, columns, writer, store, ct);
    }

    public static async Task<Results<PushStreamHttpResult, ValidationProblem>> ExportCluster(
        string id, string? format, string? columns, ExportWriter writer, RecommendationStore store, RedisKeys keys, IOptions<ApiOptions> options, CancellationToken ct)
    {
        if (ClusterId(id, options.Value) is not { } cluster)
            return Validation.Problem("id", ClusterMessage(options.Value));
        return await Export(Segment.Cluster(keys, cluster), format, columns, writer, store, ct);
    }

    /// columns: isdn (the default: the ISDN, and the score for a service) or all (every column of
    /// the recommendation, CSV only: RecommendationCsv).
    static async Task<Results<PushStreamHttpResult, ValidationProblem>> Export(
        Segment segment, string? format, string? columns, ExportWriter writer, RecommendationStore store, CancellationToken ct)
    {
        bool? all = columns switch
        {
            null or "" or "isdn" => false,
            "all" => true,
            _ => null,
        };
        if (all is null)
            return Validation.Problem("columns", "Expected isdn or all.");
        ExportFormat? f = format switch
        {
            null or "" or "csv" => ExportFormat.Csv,
            "ndjson" => ExportFormat.Ndjson,
            _ => null,
        };
        if (f is not { } fmt)
            return Validation.Problem("format", "Expected csv or ndjson.");
        if (all == true && fmt != ExportFormat.Csv)
            return Validation.Problem("columns", "columns=all is for CSV; NDJSON lists ISDNs.");
        var fromRedis = await writer.UseRedisAsync(segment);
        var name = $"{segment.Kind.ToString().ToLowerInvariant()}-{segment.Value}.{(fmt == ExportFormat.Csv ? "csv" : "ndjson")}";
        if (all == true)
            return TypedResults.Stream(body => RecommendationCsv.WriteAsync(writer.IdBatchesAsync(segment, fromRedis, ct), store, body, ct),
                "text/csv; charset=utf-8", name);
        return TypedResults.Stream(body => writer.WriteAsync(segment, fmt, fromRedis, body, ct),
            fmt == ExportFormat.Csv ? "text/csv; charset=utf-8" : "application/x-ndjson", name);
    }

    static int? ClusterId(string id, ApiOptions options) =>
        int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var c) && Array.IndexOf(options.Clusters, c) >= 0 ? c : null;

    static string ClusterMessage(ApiOptions options) => $"Unknown cluster; one of: {string.Join(", ", options.Clusters)}.";
}

public sealed record ServicePage(string ServiceType, long Total, long Offset, int Limit, IReadOnlyList<RecommendationView> Items);

public sealed record IsdnItem(string Isdn);

/// docs/api.md UC3/UC4: items are {"isdn"} objects, or whole recommendations with details=true.
public sealed record SegmentPage(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RiskLevel,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Cluster,
    long Total,
    string? NextCursor,
    IReadOnlyList<object> Items);

/// A ServicePage written from each record's kept JSON (RecommendationView.Utf8Json) with its
/// score appended, instead of serialising 100 records per page again: the serialiser was over a
/// quarter of a page's CPU. The bytes are those ServicePage would serialise to.
public sealed class ServicePageResult(
    string serviceType, long total, long offset, int limit, RecommendationView?[] views, List<(string Isdn, double Score)> members) : IResult, IEndpointMetadataProvider
{
    public async Task ExecuteAsync(HttpContext http)
    {
        http.Response.ContentType = "application/json; charset=utf-8";
        var writer = new Utf8JsonWriter(http.Response.BodyWriter, new JsonWriterOptions { Encoder = ApiJson.Web.Options.Encoder, SkipValidation = true });
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            writer.WriteString("service_type"u8, serviceType);
            writer.WriteNumber("total"u8, total);
            writer.WriteNumber("offset"u8, offset);
            writer.WriteNumber("limit"u8, limit);
            writer.WriteStartArray("items"u8);
            var item = new ArrayBufferWriter<byte>(1024);
            for (var i = 0; i < views.Length; i++)
            {
                // In the index but gone from PostgreSQL (a sync will drop it), or its record
                // says another service (written ahead of the index by a killed sync).
                if (views[i] is not { } view || view.ServiceType != serviceType)
                    continue;
                item.ResetWrittenCount();
                var json = view.Utf8Json().Span;
                item.Write(json[..^1]);               // without its closing brace
                item.Write(",\"score\":"u8);
                var number = item.GetSpan(32);
                Utf8Formatter.TryFormat(members[i].Score, number, out var written);
                item.Advance(written);
                item.Write("}"u8);
                writer.WriteRawValue(item.WrittenSpan, skipInputValidation: true);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
            await writer.FlushAsync(http.RequestAborted);
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(ServicePage), ["application/json"]));
}
