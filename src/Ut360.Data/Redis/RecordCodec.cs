using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;
using Ut360.Data.Domain;
using Ut360.Data.Records;

namespace Ut360.Data.Redis;

/// The encoding of ut360:rec:{ISDN} and ut360:profile:{ISDN} (design section 2.2 A and B). The
/// sync writes with it and the API reads with it, so the two cannot drift apart.
public static class RecordCodec
{
    /// The 14 fields of structure A, in the design's order.
    public static readonly string[] RecFields =
    [
        "isdn", "subscriber_type", "service_type", "advance_amount", "revenue_per_advance", "cluster_group",
        "bad_debt_risk", "arpu_avg_6m", "arpu_growth_rate", "arpu_trend", "customer_value_score",
        "advance_readiness_score", "recommendation_date", "priority",
    ];

    /// The fields of structure B.
    public static readonly string[] ProfileFields =
    [
        "basic", "arpu_stats", "revenue_breakdown", "topup_behavior", "risk_assessment", "kpi_scores",
        "monthly_arpu", "insights", "updated_at",
    ];

    /// Plain decimal text without trailing zeros: 25000.00 → "25000", 2757.50 → "2757.5".
    public static string Number(decimal value) => value.ToString("0.############", CultureInfo.InvariantCulture);

    static string Number(decimal? value) => value is { } v ? Number(v) : "";

    /// Removes the scale PostgreSQL's numeric(p,2) gives, so JSON shows 25000 rather than 25000.00.
    public static decimal? Trim(decimal? value) => value is { } v ? v / 1.000000000000000000000000000000000m : null;

    public static HashEntry[] EncodeRec(Recommendation r)
    {
        var sink = new EntrySink(RecordEncoder.RecFieldCount);
        Encoder.WriteRec(r, sink);
        return sink.Entries;
    }

    // One encoder per thread: the API fills the cache from many requests at once.
    [ThreadStatic] static RecordEncoder? _encoder;
    static RecordEncoder Encoder => _encoder ??= new RecordEncoder();

    sealed class EntrySink(int count) : IHashFieldSink
    {
        int _i;
        public HashEntry[] Entries { get; } = new HashEntry[count];

        public void Field(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
            Entries[_i++] = new HashEntry(System.Text.Encoding.UTF8.GetString(name), System.Text.Encoding.UTF8.GetString(value));
    }

    /// Decodes a rec hash; null when the hash is empty (a miss) or lacks the identifying fields.
    public static Recommendation? DecodeRec(HashEntry[] entries)
    {
        if (entries.Length == 0)
            return null;
        var f = new Dictionary<string, string>(entries.Length, StringComparer.Ordinal);
        foreach (var e in entries)
            f[e.Name!] = e.Value!;
        if (!f.TryGetValue("isdn", out var isdn) || !f.TryGetValue("service_type", out var service))
            return null;
        decimal? cv = D(f, "customer_value_score"), ar = D(f, "advance_readiness_score");
        return new Recommendation
        {
            Isdn = isdn,
            SubscriberType = f.GetValueOrDefault("subscriber_type", ""),
            ServiceType = service,
            AdvanceAmount = D(f, "advance_amount") ?? 0,
            RevenuePerAdvance = D(f, "revenue_per_advance") ?? 0,
            ClusterGroup = int.TryParse(f.GetValueOrDefault("cluster_group"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) ? c : null,
            BadDebtRisk = f.GetValueOrDefault("bad_debt_risk", ""),
            ArpuAvg6m = D(f, "arpu_avg_6m"),
            ArpuGrowthRate = D(f, "arpu_growth_rate"),
            ArpuTrend = NullIfEmpty(f.GetValueOrDefault("arpu_trend")),
            CustomerValueScore = cv,
            AdvanceReadinessScore = ar,
            PriorityScore = cv is { } x && ar is { } y ? Priority.Score(x, y) : null,
            RecommendationDate = DateOnly.TryParseExact(f.GetValueOrDefault("recommendation_date"), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : default,
        };
    }

    static decimal? D(Dictionary<string, string> f, string name) =>
        f.TryGetValue(name, out var s) && decimal.TryParse(s, NumberStyles.Number, CultureInfo.InvariantCulture, out var v) ? v : null;

    static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    public static HashEntry[] EncodeProfile(Profile p, DateTimeOffset updatedAt)
    {
        var sink = new EntrySink(RecordEncoder.ProfileFieldCount);
        Encoder.WriteProfile(p, updatedAt, sink);
        return sink.Entries;
    }

    /// Decodes a profile hash into its sections; null when the hash is empty or incomplete.
    public static ProfileSections? DecodeProfile(HashEntry[] entries)
    {
        if (entries.Length == 0)
            return null;
        var f = new Dictionary<string, string>(entries.Length, StringComparer.Ordinal);
        foreach (var e in entries)
            f[e.Name!] = e.Value!;
        if (!f.TryGetValue("basic", out var basic))
            return null;
        return new ProfileSections
        {
            Basic = Parse(basic, ProfileJson.Utf8.BasicSection)!,
            ArpuStats = Parse(f.GetValueOrDefault("arpu_stats"), ProfileJson.Utf8.ArpuStatsSection) ?? new(),
            RevenueBreakdown = Parse(f.GetValueOrDefault("revenue_breakdown"), ProfileJson.Utf8.RevenueBreakdownSection) ?? new(),
            TopupBehavior = Parse(f.GetValueOrDefault("topup_behavior"), ProfileJson.Utf8.TopupBehaviorSection) ?? new(),
            RiskAssessment = Parse(f.GetValueOrDefault("risk_assessment"), ProfileJson.Utf8.RiskAssessmentSection) ?? new(),
            KpiScores = Parse(f.GetValueOrDefault("kpi_scores"), ProfileJson.Utf8.KpiScoresSection) ?? new(),
            MonthlyArpu = Parse(f.GetValueOrDefault("monthly_arpu"), ProfileJson.Utf8.IReadOnlyListMonthlyArpuItem) ?? [],
            Insights = Parse(f.GetValueOrDefault("insights"), ProfileJson.Utf8.InsightsSection) ?? new(),
            UpdatedAt = f.GetValueOrDefault("updated_at"),
        };
    }

    static T? Parse<T>(string? json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) =>
        string.IsNullOrEmpty(json) ? default : JsonSerializer.Deserialize(json, info);
}

/// The JSON sections of a 360 profile, with the design's key names (section 2.2 B). Fields the
/// design does not list but the Customer 360 modal shows are added at the end of a section.
public sealed record ProfileSections
{
    public required BasicSection Basic { get; init; }
    public required ArpuStatsSection ArpuStats { get; init; }
    public required RevenueBreakdownSection RevenueBreakdown { get; init; }
    public required TopupBehaviorSection TopupBehavior { get; init; }
    public required RiskAssessmentSection RiskAssessment { get; init; }
    public required KpiScoresSection KpiScores { get; init; }
    public required IReadOnlyList<MonthlyArpuItem> MonthlyArpu { get; init; }
    public required InsightsSection Insights { get; init; }
    public string? UpdatedAt { get; init; }

    public static ProfileSections From(Profile p) => new()
    {
        Basic = new(p.Isdn, p.SubscriberType, p.ServiceType, RecordCodec.Trim(p.AdvanceAmount), RecordCodec.Trim(p.RevenuePerAdvance),
            p.ClusterGroup, p.ClusterLabel, p.ProfileDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
        ArpuStats = new(RecordCodec.Trim(p.ArpuAvg6m), RecordCodec.Trim(p.ArpuStd6m), RecordCodec.Trim(p.ArpuMin6m), RecordCodec.Trim(p.ArpuMax6m),
            RecordCodec.Trim(p.ArpuGrowthRate), p.ArpuTrend, RecordCodec.Trim(p.ArpuFirstMonth), RecordCodec.Trim(p.ArpuLastMonth)),
        RevenueBreakdown = new(RecordCodec.Trim(p.RevenueCallPct), RecordCodec.Trim(p.RevenueSmsPct), RecordCodec.Trim(p.RevenueDataPct), p.UserType),
        TopupBehavior = new(RecordCodec.Trim(p.TopupFrequency), RecordCodec.Trim(p.TopupAvgAmount), RecordCodec.Trim(p.TopupAdvanceRatio),
            p.TopupFrequencyClass, RecordCodec.Trim(p.TopupMinAmount), RecordCodec.Trim(p.TopupMaxAmount)),
        RiskAssessment = new(p.BadDebtRisk, RecordCodec.Trim(p.RiskScore), p.RiskFactors),
        KpiScores = new(RecordCodec.Trim(p.CustomerValueScore), RecordCodec.Trim(p.AdvanceReadinessScore), RecordCodec.Trim(p.RevenuePotential)),
        MonthlyArpu = p.MonthlyArpu.Select(m => new MonthlyArpuItem(m.Month, RecordCodec.Trim(m.ArpuCall), RecordCodec.Trim(m.ArpuSms),
            RecordCodec.Trim(m.ArpuData), RecordCodec.Trim(m.ArpuTotal))).ToList(),
        Insights = new(p.ClassificationReason, p.Strengths, p.RecommendationsText),
        UpdatedAt = p.UpdatedAt?.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture),
    };
}

public sealed record BasicSection(string Isdn, string Type, string? Service, decimal? Advance, decimal? Revenue,
    int? Cluster = null, string? ClusterLabel = null, string? ProfileDate = null);

public sealed record ArpuStatsSection(decimal? Avg = null, decimal? Std = null, decimal? Min = null, decimal? Max = null,
    decimal? GrowthRate = null, string? Trend = null, decimal? FirstMonth = null, decimal? LastMonth = null);

public sealed record RevenueBreakdownSection(decimal? CallPct = null, decimal? SmsPct = null, decimal? DataPct = null, string? UserType = null);

public sealed record TopupBehaviorSection(decimal? Frequency = null, decimal? AvgAmount = null, decimal? Ratio = null,
    string? FrequencyClass = null, decimal? MinAmount = null, decimal? MaxAmount = null);

public sealed record RiskAssessmentSection(string? Level = null, decimal? Score = null, IReadOnlyList<string>? Factors = null);

public sealed record KpiScoresSection(decimal? CustomerValue = null, decimal? AdvanceReadiness = null, decimal? RevenuePotential = null);

public sealed record MonthlyArpuItem(string Month, decimal? ArpuCall, decimal? ArpuSms, decimal? ArpuData, decimal? ArpuTotal);

public sealed record InsightsSection(string? ClassificationReason = null, IReadOnlyList<string>? Strengths = null, IReadOnlyList<string>? Recommendations = null);

// snake_case keys as in the design; Vietnamese stays UTF-8 (no \u escapes) for redis-cli readers.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(BasicSection))]
[JsonSerializable(typeof(ArpuStatsSection))]
[JsonSerializable(typeof(RevenueBreakdownSection))]
[JsonSerializable(typeof(TopupBehaviorSection))]
[JsonSerializable(typeof(RiskAssessmentSection))]
[JsonSerializable(typeof(KpiScoresSection))]
[JsonSerializable(typeof(IReadOnlyList<MonthlyArpuItem>))]
[JsonSerializable(typeof(InsightsSection))]
public sealed partial class ProfileJson : JsonSerializerContext
{
    /// The context with an encoder that leaves non-ASCII text as UTF-8.
    public static ProfileJson Utf8 { get; } = new(new JsonSerializerOptions
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    });
}
