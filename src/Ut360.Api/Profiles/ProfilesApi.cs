using System.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Domain;
using Ut360.Data.Records;
using Ut360.Data.Redis;

namespace Ut360.Api.Profiles;

/// UC5: the whole 360 profile of one subscriber (Customer360 modal).
public static class ProfilesApi
{
    public static IEndpointRouteBuilder MapProfiles(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/profiles").WithTags("Profiles").RequireAuthorization(Roles.Lookup)
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/by-msisdn/{msisdn}", GetByMsisdn)
            .WithName("GetProfileByMsisdn")
            .WithSummary("UC5 by phone number: encrypts it with the configured key and looks the ISDN up");
        api.MapGet("/{**isdn}", Get)
            .WithName("GetProfile")
            .WithSummary("UC5: the 360 profile, JSON sections parsed, monthly ARPU in month order");
        return app;
    }

    public static async Task<Results<KeptJson<ProfileView>, ProblemHttpResult, ValidationProblem>> Get(
        string isdn, ProfileStore store, HttpContext http, CancellationToken ct)
    {
        if (Validation.Isdn(isdn) is not { } key)
            return Validation.Problem("isdn", Validation.IsdnMessage);
        return await Lookup(key, store, http, ct);
    }

    public static async Task<Results<KeptJson<ProfileView>, ProblemHttpResult, ValidationProblem>> GetByMsisdn(
        string msisdn, ProfileStore store, IsdnCipher cipher, HttpContext http, CancellationToken ct)
    {
        if (VietnamMobile.Normalise(msisdn) is not { } number)
            return Validation.Problem("msisdn", Validation.MsisdnMessage);
        string isdn;
        lock (cipher)
            isdn = cipher.Encrypt(number);
        return await Lookup(isdn, store, http, ct);
    }

    static async Task<Results<KeptJson<ProfileView>, ProblemHttpResult, ValidationProblem>> Lookup(
        string isdn, ProfileStore store, HttpContext http, CancellationToken ct)
    {
        var (view, timing) = await store.GetAsync(isdn, ct);
        timing.Apply(http.Response);
        return view is null
            ? TypedResults.Problem(title: "No profile for this ISDN", statusCode: StatusCodes.Status404NotFound)
            : new KeptJson<ProfileView>(view.Utf8Json());
    }
}

/// docs/api.md "Profile": the sections of ut360:profile:{ISDN}, parsed.
public sealed record ProfileView(
    string Isdn,
    BasicSection Basic,
    ArpuStatsSection ArpuStats,
    RevenueBreakdownSection RevenueBreakdown,
    TopupBehaviorSection TopupBehavior,
    RiskAssessmentSection RiskAssessment,
    KpiScoresSection KpiScores,
    IReadOnlyList<MonthlyArpuItem> MonthlyArpu,
    InsightsSection Insights,
    string? UpdatedAt,
    string Source)
{
    // Kept with the view, which the near cache shares between requests (views are never changed
    // after they are made, so the bytes cannot go stale; no `with` copies are made of them).
    byte[]? _utf8;

    /// The view as JSON, made once per view.
    public ReadOnlyMemory<byte> Utf8Json() =>
        _utf8 ??= System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(this, ApiJson.Web.ProfileView);

    public static ProfileView From(string isdn, ProfileSections s, string source) => new(
        isdn, s.Basic, s.ArpuStats, s.RevenueBreakdown, s.TopupBehavior, s.RiskAssessment, s.KpiScores,
        InOrder(s.MonthlyArpu), s.Insights, s.UpdatedAt, source);

    static IReadOnlyList<MonthlyArpuItem> InOrder(IReadOnlyList<MonthlyArpuItem> months)
    {
        for (var i = 1; i < months.Count; i++)
            if (string.CompareOrdinal(months[i - 1].Month, months[i].Month) > 0)
                return [.. months.OrderBy(m => m.Month, StringComparer.Ordinal)];
        return months;
    }
}

/// <summary>
/// Cache-aside reads of ut360:profile:{ISDN} (UC5), as <see cref="Recommendations.RecommendationStore"/>
/// reads records: the in-process level, Redis through the circuit, PostgreSQL on a miss (written
/// back through <see cref="CacheFill"/>) or while Redis is unavailable.
/// </summary>
public sealed class ProfileStore(
    IConnectionMultiplexer redis, NpgsqlDataSource db, RedisKeys keys, RedisCircuit circuit, ApiMetrics metrics, NearCache<ProfileView> near)
{
    /// <summary>One subscriber's profile.</summary>
    /// <returns>The profile (null: no such subscriber) and where it came from.</returns>
    /// <exception cref="NpgsqlException">Redis lacks the profile and PostgreSQL cannot be reached (a 503).</exception>
    public async Task<(ProfileView? View, CacheTiming Timing)> GetAsync(string isdn, CancellationToken ct)
    {
        if (near.Cache is not { } cache)
            return await ReadAsync(isdn, ct);
        var key = near.Key(isdn);
        if (cache.TryGet<ProfileView?>(key, token: ct) is { HasValue: true } kept)
        {
            metrics.NearHit();
            return (kept.Value, new CacheTiming { Outcome = CacheOutcome.Near });
        }
        metrics.NearMiss();
        var (view, timing, read) = await near.GetOrReadAsync(key, token => ReadAsync(isdn, token), ct);
        if (!read)
            metrics.Coalesce();
        return (view, timing);
    }


    async Task<(ProfileView? View, CacheTiming Timing)> ReadAsync(string isdn, CancellationToken ct)
    {
        var timing = new CacheTiming();
        var start = Stopwatch.GetTimestamp();
        var (answered, entries) = await circuit.TryAsync(static s => s.Database.HashGetAllAsync(s.Key), (Database: redis.GetDatabase(), Key: keys.Profile(isdn)), ct);
        timing.AddRedis(start);
        if (answered && RecordCodec.DecodeProfile(entries) is { } sections)
        {
            metrics.Hit();
            timing.Outcome = CacheOutcome.Hit;
            return (ProfileView.From(isdn, sections, "redis"), timing);
        }
        timing.Outcome = metrics.NotInRedis(answered);

        var pgStart = Stopwatch.GetTimestamp();
        metrics.PostgresRead();
        var profile = await SubscriberQueries.GetProfileAsync(db, isdn, ct);
        timing.AddPostgres(pgStart);
        if (profile is null)
            return (null, timing);
        var updatedAt = profile.UpdatedAt is { } u ? new DateTimeOffset(DateTime.SpecifyKind(u, DateTimeKind.Utc)) : DateTimeOffset.UtcNow;
        var encoded = RecordCodec.EncodeProfile(profile, updatedAt);
        // Not written back while Redis is failing: the write would only add to its trouble.
        if (answered)
            await circuit.TryAsync(static async s =>
            {
                await CacheFill.FillHashesIfAbsentAsync(s.Redis, s.Keys, [(s.Isdn, s.Keys.Profile(s.Isdn), s.Entries)], RedisKeys.RecordTtl);
                return true;
            }, (Redis: redis, Keys: keys, Isdn: isdn, Entries: encoded), CancellationToken.None);
        // Decoded from the same entries the cache holds, so a miss and a hit answer alike.
        return (ProfileView.From(isdn, RecordCodec.DecodeProfile(encoded)!, "postgres"), timing);
    }
}
