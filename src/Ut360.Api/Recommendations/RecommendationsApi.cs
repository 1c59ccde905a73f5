using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Domain;

namespace Ut360.Api.Recommendations;

/// UC1: the recommendation of one subscriber, by encrypted ISDN or by phone number.
public static class RecommendationsApi
{
    public static IEndpointRouteBuilder MapRecommendations(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/recommendations").WithTags("Recommendations").RequireAuthorization(Roles.Lookup)
            .ProducesProblem(StatusCodes.Status404NotFound);

        api.MapGet("/by-msisdn/{msisdn}", GetByMsisdn)
            .WithName("GetRecommendationByMsisdn")
            .WithSummary("UC1 by phone number: encrypts it with the configured key and looks the ISDN up");
        // Catch-all: the base64 ISDN may contain "/" and clients do not always escape it.
        api.MapGet("/{**isdn}", Get)
            .WithName("GetRecommendation")
            .WithSummary("UC1: the recommendation of one subscriber (?fields=a,b for some fields only)");
        return app;
    }

    public static async Task<Results<KeptJson<RecommendationView>, JsonHttpResult<JsonObject>, ProblemHttpResult, ValidationProblem>> Get(
        string isdn, string? fields, RecommendationStore store, HttpContext http, CancellationToken ct)
    {
        if (Validation.Isdn(isdn) is not { } key)
            return Validation.Problem("isdn", Validation.IsdnMessage);
        if (fields is null)
            return await Lookup(key, store, http, ct);

        if (!TryParseFields(fields, out var names, out var redisFields, out var bad))
            return Validation.Problem("fields", $"Unknown field \"{bad}\"; known fields: {string.Join(", ", RecommendationView.FieldNames)}.");
        var (view, timing) = await store.GetAsync(key, redisFields, ct);
        timing.Apply(http.Response);
        return view is null ? NotFound() : TypedResults.Json(Project(view, names));
    }

    public static async Task<Results<KeptJson<RecommendationView>, JsonHttpResult<JsonObject>, ProblemHttpResult, ValidationProblem>> GetByMsisdn(
        string msisdn, RecommendationStore store, IsdnCipher cipher, HttpContext http, CancellationToken ct)
    {
        if (VietnamMobile.Normalise(msisdn) is not { } number)
            return Validation.Problem("msisdn", Validation.MsisdnMessage);
        string isdn;
        lock (cipher)
            isdn = cipher.Encrypt(number);
        return await Lookup(isdn, store, http, ct);
    }

    static async Task<Results<KeptJson<RecommendationView>, JsonHttpResult<JsonObject>, ProblemHttpResult, ValidationProblem>> Lookup(
        string isdn, RecommendationStore store, HttpContext http, CancellationToken ct)
    {
        var (view, timing) = await store.GetAsync(isdn, ct);
        timing.Apply(http.Response);
        return view is null ? NotFound() : new KeptJson<RecommendationView>(view.Utf8Json());
    }

    static ProblemHttpResult NotFound() =>
        TypedResults.Problem(title: "No recommendation for this ISDN", statusCode: StatusCodes.Status404NotFound);

    static bool TryParseFields(string text, out List<string> names, out RedisValue[] redisFields, out string? bad)
    {
        names = [];
        bad = null;
        redisFields = new RedisValue[RecommendationView.RedisFields.Length];
        redisFields[0] = RecommendationView.RedisFields[0]; // isdn: present exactly when the key is
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var at = Array.IndexOf(RecommendationView.FieldNames, part);
            if (at < 0)
            {
                bad = part.Length > 40 ? part[..40] + "…" : part;
                return false;
            }
            if (!names.Contains(part))
                names.Add(part);
            if (at < redisFields.Length)
                redisFields[at] = RecommendationView.RedisFields[at];
            else
            {
                // priority_score is derived from the two scores.
                redisFields[10] = RecommendationView.RedisFields[10];
                redisFields[11] = RecommendationView.RedisFields[11];
            }
        }
        if (names.Count == 0)
        {
            bad = "";
            return false;
        }
        return true;
    }

    static JsonObject Project(RecommendationView v, List<string> names)
    {
        var o = new JsonObject();
        foreach (var name in names)
        {
            o[name] = name switch
            {
                "isdn" => v.Isdn,
                "subscriber_type" => v.SubscriberType,
                "service_type" => v.ServiceType,
                "advance_amount" => v.AdvanceAmount,
                "revenue_per_advance" => v.RevenuePerAdvance,
                "cluster_group" => v.ClusterGroup,
                "bad_debt_risk" => v.BadDebtRisk,
                "arpu_avg_6m" => v.ArpuAvg6m,
                "arpu_growth_rate" => v.ArpuGrowthRate,
                "arpu_trend" => v.ArpuTrend,
                "customer_value_score" => v.CustomerValueScore,
                "advance_readiness_score" => v.AdvanceReadinessScore,
                "recommendation_date" => v.RecommendationDate == default ? null : v.RecommendationDate.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                "priority" => v.Priority,
                "priority_score" => v.PriorityScore,
                _ => null,
            };
        }
        return o;
    }
}
