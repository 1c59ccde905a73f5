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

/// Cache-aside reads of ut360:profile:{ISDN}; see RecommendationStore for the rules.
public sealed class ProfileStore(
    IConnectionMultiplexer redis, NpgsqlDataSource db, RedisKeys keys, RedisGate gate, ApiMetrics metrics, NearCache<ProfileView> near)
{
    readonly SingleFlight<ProfileView?> _flight = new(metrics);

    public Task<(ProfileView? View, CacheTiming Timing)> GetAsync(string isdn, CancellationToken ct) =>
        CacheAside.GetAsync(isdn, (Store: this, Isdn: isdn), gate, metrics, _flight, near.Enabled ? near : null,
            static s => s.Store.ReadRedisAsync(s.Isdn),
            static (i, s, t) => s.State.Store.LoadAsync(i, s.Fill, t), ct);

    async Task<ProfileView?> ReadRedisAsync(string isdn) =>
        RecordCodec.DecodeProfile(await redis.GetDatabase().HashGetAllAsync(keys.Profile(isdn))) is { } sections
            ? ProfileView.From(isdn, sections, "redis")
            : null;

    async Task<ProfileView?> LoadAsync(string isdn, bool fill, CancellationToken ct)
    {
        metrics.PostgresRead();
        var profile = await SubscriberQueries.GetProfileAsync(db, isdn, ct);
        if (profile is null)
            return null;
        var updatedAt = profile.UpdatedAt is { } u ? new DateTimeOffset(DateTime.SpecifyKind(u, DateTimeKind.Utc)) : DateTimeOffset.UtcNow;
        var entries = RecordCodec.EncodeProfile(profile, updatedAt);
        if (fill)
        {
            try
            {
                await CacheFill.FillHashesIfAbsentAsync(redis, keys, [(isdn, keys.Profile(isdn), entries)], RedisKeys.RecordTtl);
            }
            catch (Exception e) when (RedisGate.IsRedisFault(e))
            {
                gate.Failure();
            }
        }
        // Decoded from the same entries the cache holds, so a miss and a hit answer alike.
        return ProfileView.From(isdn, RecordCodec.DecodeProfile(entries)!, "postgres");
    }
}
