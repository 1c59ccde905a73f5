using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Api.Recommendations;
using Ut360.Data.Domain;
using Ut360.Data.Redis;

namespace Ut360.Api.Bulk;

/// UC6: recommendations for a campaign list of 1–10,000 ISDNs.
public static class BulkApi
{
    public static IEndpointRouteBuilder MapBulk(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/recommendations/bulk", Lookup)
            .WithTags("Bulk")
            .RequireAuthorization(Roles.Campaign)
            // No .Accepts(): its content-type routing would turn other bodies into 404/415 instead
            // of the 400 naming "body" that clients get; the accepted shapes are in the summary.
            .AddOpenApiOperationTransformer(async (op, ctx, ct) =>
            {
                var json = await ctx.GetOrCreateSchemaAsync(typeof(BulkRequest), null, ct);
                var text = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String, Description = "One ISDN per line; an optional header line \"isdn\"." };
                op.RequestBody = new Microsoft.OpenApi.OpenApiRequestBody
                {
                    Required = true,
                    Description = "1–10,000 encrypted ISDNs.",
                    Content = new Dictionary<string, Microsoft.OpenApi.OpenApiMediaType>
                    {
                        ["application/json"] = new() { Schema = json },
                        ["text/csv"] = new() { Schema = text },
                        ["text/plain"] = new() { Schema = text },
                        ["multipart/form-data"] = new()
                        {
                            Schema = new Microsoft.OpenApi.OpenApiSchema
                            {
                                Type = Microsoft.OpenApi.JsonSchemaType.Object,
                                Properties = new Dictionary<string, Microsoft.OpenApi.IOpenApiSchema>
                                {
                                    ["file"] = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String, Format = "binary" },
                                },
                            },
                        },
                    },
                };
            })
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithName("BulkLookup")
            .WithSummary("UC6: recommendations for 1–10,000 ISDNs (JSON {\"isdns\":[…]}, or CSV / an uploaded file, one ISDN per line)");
        return app;
    }

    public static async Task<Results<BulkResult, ValidationProblem, ProblemHttpResult>> Lookup(
        HttpRequest request, RecommendationStore store, IConnectionMultiplexer redis, RedisKeys keys, RedisCircuit circuit,
        IOptions<ApiOptions> options, BulkAnswerCache answers, CancellationToken ct)
    {
        var limits = options.Value;
        if (request.ContentLength > limits.BulkMaxBodyBytes)
            return TooLarge($"The body is larger than {limits.BulkMaxBodyBytes} bytes.");

        var (list, error, tooLarge) = await BulkInput.ReadAsync(request, limits.BulkMaxBodyBytes, limits.BulkMaxIsdns, ct);
        if (tooLarge is not null)
            return TooLarge(tooLarge);
        if (error is not null)
            return TypedResults.ValidationProblem(error);
        var isdns = list!.Isdns;
        if (isdns.Count == 0)
            return Validation.Problem("isdns", "Expected 1 to 10,000 ISDNs; the list is empty.");
        if (isdns.Count > limits.BulkMaxIsdns)
            return TooLarge($"At most {limits.BulkMaxIsdns} ISDNs per request; this one has {isdns.Count}.");

        // The cache key covers the sorted, de-duplicated list (design structure G), and the cached
        // array is in that order; the answer lists the ISDNs as given, each once.
        var given = isdns.Distinct(StringComparer.Ordinal).ToArray();
        var unique = (string[])given.Clone();
        var rank = new int[given.Length];
        for (var i = 0; i < rank.Length; i++)
            rank[i] = i;
        Array.Sort(unique, rank, StringComparer.Ordinal);
        var order = new int[given.Length]; // order[k]: where given[k] sits in the sorted array
        for (var j = 0; j < rank.Length; j++)
            order[rank[j]] = j;
        var key = keys.Bulk(Hash(unique));
        var timing = new CacheTiming();

        var start = Stopwatch.GetTimestamp();
        var (_, (bytes, remaining, lastSync)) = await circuit.TryAsync(static async s =>
        {
            var cached = s.Database.StringGetAsync(s.Key);
            var ttl = s.Database.KeyTimeToLiveAsync(s.Key);
            var synced = s.Database.HashGetAsync(s.MetaStats, "last_updated");
            return ((byte[]?)await cached, await ttl, await synced);
        }, (Database: redis.GetDatabase(), Key: key, keys.MetaStats), ct);
        timing.AddRedis(start);
        if (bytes is not null && IsFresh(remaining, lastSync) && Elements(bytes, unique.Length) is var (cachedElements, cachedFound))
        {
            timing.Outcome = CacheOutcome.Hit;
            return new BulkResult(unique.Length, cachedFound, true, bytes, cachedElements, order, list, timing);
        }

        var (views, lookup, _) = await store.GetManyAsync(unique, ct);
        timing.Merge(lookup);
        timing.Outcome = lookup.Outcome <= CacheOutcome.Hit ? CacheOutcome.Miss : lookup.Outcome;
        var (results, found) = Serialize(unique, views);
        // Not awaited: the answer is in hand, and the next request on this connection is
        // queued behind the write, so a repeat of the list finds it.
        if (lookup.Outcome != CacheOutcome.Fallback && !circuit.IsOpen)
            answers.Keep(key, results);
        return new BulkResult(unique.Length, found, false, results, Elements(results.Span, unique.Length)!.Value.Elements, order, list, timing);
    }

    /// Where each element of a structure-G array starts and ends, and how many were found, in one
    /// pass; null when the array does not hold exactly <paramref name="count"/> objects (then it
    /// is not this list's answer). Each element starts {"isdn":…,"found":…} (Serialize).
    static (Range[] Elements, int Found)? Elements(ReadOnlySpan<byte> json, int count)
    {
        var ranges = new Range[count];
        var found = 0;
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            return null;
        var i = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            if (i == count)
                return null;
            var start = (int)reader.TokenStartIndex;
            // "isdn", its value, "found", its value; then the rest of the object.
            if (!reader.Read() || !reader.Read() || !reader.Read() || !reader.ValueTextEquals("found"u8) || !reader.Read())
                return null;
            if (reader.TokenType == JsonTokenType.True)
                found++;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    reader.Skip();
            ranges[i++] = start..(int)reader.BytesConsumed;
        }
        return i == count ? (ranges, found) : null;
    }

    static ProblemHttpResult TooLarge(string detail) =>
        TypedResults.Problem(title: "Too many ISDNs", detail: detail, statusCode: StatusCodes.Status413PayloadTooLarge);

    static string Hash(string[] sorted)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> newline = [(byte)'\n'];
        var buffer = new byte[64];
        foreach (var isdn in sorted)
        {
            var n = Encoding.UTF8.GetBytes(isdn, buffer);
            sha.AppendData(buffer.AsSpan(0, n));
            sha.AppendData(newline);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// A cached answer older than the last sync is stale (the sync may have changed any of its
    /// records); its age is the bulk TTL minus what remains of it.
    static bool IsFresh(TimeSpan? remaining, RedisValue lastSync)
    {
        if (remaining is not { } left || lastSync.IsNullOrEmpty)
            return true;
        if (!DateTimeOffset.TryParse((string)lastSync!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var synced))
            return true;
        var writtenAt = DateTimeOffset.UtcNow - (RedisKeys.BulkTtl - left);
        return writtenAt > synced;
    }

    /// The structure-G value: a JSON array of {isdn, found, recommendation?}.
    static (ReadOnlyMemory<byte> Json, int Found) Serialize(string[] isdns, RecommendationView?[] views)
    {
        // Sized from the records' own JSON, so the multi-megabyte buffer is allocated once.
        var size = 16L;
        for (var i = 0; i < isdns.Length; i++)
            size += isdns[i].Length + 64 + (views[i]?.Utf8Json().Length ?? 0);
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(size, Array.MaxLength));
        using var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = ApiJson.Web.Options.Encoder, SkipValidation = true });
        var found = 0;
        writer.WriteStartArray();
        for (var i = 0; i < isdns.Length; i++)
        {
            writer.WriteStartObject();
            writer.WriteString("isdn"u8, isdns[i]);
            writer.WriteBoolean("found"u8, views[i] is not null);
            if (views[i] is { } v)
            {
                found++;
                writer.WritePropertyName("recommendation"u8);
                writer.WriteRawValue(v.Utf8Json().Span, skipInputValidation: true);
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.Flush();
        return (buffer.WrittenMemory, found);
    }
}

public sealed record BulkRequest(IReadOnlyList<string>? Isdns);

public sealed record BulkItem(string Isdn, bool Found, RecommendationView? Recommendation);

/// docs/api.md UC6 (the OpenAPI shape of BulkResult).
/// <param name="Results">One per distinct ISDN, in the order given.</param>
/// <param name="RejectedCount">Lines of a CSV body or file that held no ISDN.</param>
/// <param name="Rejected">The first 1,000 of them, by line.</param>
public sealed record BulkResponse(int Requested, int Found, int NotFound, bool Cached, IReadOnlyList<BulkItem> Results,
    int RejectedCount, IReadOnlyList<BulkRejectedLine> Rejected);

/// Writes the envelope around the results array as bytes, so a cached answer goes out without
/// being parsed and serialised again; its elements are copied in the order given.
public sealed class BulkResult(int requested, int found, bool cached, ReadOnlyMemory<byte> results, Range[] elements, int[] order,
    BulkList list, CacheTiming timing) : IResult, IEndpointMetadataProvider
{
    public int Requested => requested;
    public int Found => found;

    public async Task ExecuteAsync(HttpContext http)
    {
        timing.Apply(http.Response);
        http.Response.ContentType = "application/json; charset=utf-8";
        var writer = new Utf8JsonWriter(http.Response.BodyWriter);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            writer.WriteNumber("requested"u8, requested);
            writer.WriteNumber("found"u8, found);
            writer.WriteNumber("not_found"u8, requested - found);
            writer.WriteBoolean("cached"u8, cached);
            writer.WriteStartArray("results"u8);
            foreach (var at in order)
                writer.WriteRawValue(results.Span[elements[at]], skipInputValidation: true);
            writer.WriteEndArray();
            writer.WriteNumber("rejected_count"u8, list.RejectedCount);
            writer.WriteStartArray("rejected"u8);
            foreach (var line in list.Rejected)
            {
                writer.WriteStartObject();
                writer.WriteNumber("line"u8, line.Line);
                writer.WriteString("value"u8, line.Value);
                writer.WriteString("reason"u8, line.Reason);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
            await writer.FlushAsync(http.RequestAborted);
        }
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(BulkResponse), ["application/json"]));
}
