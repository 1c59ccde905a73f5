using System.Buffers.Text;
using StackExchange.Redis;
using Ut360.Data.Domain;
using Ut360.Data.Records;
using Ut360.Data.Redis;

namespace Ut360.Api.Recommendations;

/// A recommendation as the API returns it (docs/api.md): numbers as numbers, the 14 fields of
/// the design's structure A plus priority_score.
public sealed class RecommendationView
{
    public required string Isdn { get; init; }
    public required string SubscriberType { get; init; }
    public required string ServiceType { get; init; }
    public decimal AdvanceAmount { get; init; }
    public decimal RevenuePerAdvance { get; init; }
    public int? ClusterGroup { get; init; }
    public required string BadDebtRisk { get; init; }
    // The naming policy would write "arpu_avg6m"; the contract (and the design) say arpu_avg_6m.
    [System.Text.Json.Serialization.JsonPropertyName("arpu_avg_6m")]
    public decimal? ArpuAvg6m { get; init; }
    public decimal? ArpuGrowthRate { get; init; }
    public string? ArpuTrend { get; init; }
    public decimal? CustomerValueScore { get; init; }
    public decimal? AdvanceReadinessScore { get; init; }
    public DateOnly RecommendationDate { get; init; }
    public required string Priority { get; init; }
    public decimal? PriorityScore { get; init; }

    /// The sorted-set score: UC2 lists only, where ServicePageResult appends it to the kept JSON
    /// (this property gives the OpenAPI schema its place).
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? Score { get; init; }

    byte[]? _utf8;

    /// The view as JSON, made once per view: one kept in the near cache is serialised once
    /// however many bulk answers include it (UC6 copies these bytes).
    public ReadOnlyMemory<byte> Utf8Json() =>
        _utf8 ??= System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(this, Infrastructure.ApiJson.Web.RecommendationView);

    /// The design's field order; HMGET with it gives values by position, so decoding needs no
    /// field-name lookups. Index 0 (isdn) is null exactly when the key is absent.
    public static readonly RedisValue[] RedisFields = Array.ConvertAll(RecordCodec.RecFields, f => (RedisValue)f);

    /// Every field a client may name in ?fields=.
    public static readonly string[] FieldNames = [.. RecordCodec.RecFields, "priority_score"];

    public static RecommendationView From(Recommendation r) => new()
    {
        Isdn = r.Isdn,
        SubscriberType = r.SubscriberType,
        ServiceType = r.ServiceType,
        AdvanceAmount = RecordCodec.Trim(r.AdvanceAmount)!.Value,
        RevenuePerAdvance = RecordCodec.Trim(r.RevenuePerAdvance)!.Value,
        ClusterGroup = r.ClusterGroup,
        BadDebtRisk = r.BadDebtRisk,
        ArpuAvg6m = RecordCodec.Trim(r.ArpuAvg6m),
        ArpuGrowthRate = RecordCodec.Trim(r.ArpuGrowthRate),
        ArpuTrend = r.ArpuTrend,
        CustomerValueScore = RecordCodec.Trim(r.CustomerValueScore),
        AdvanceReadinessScore = RecordCodec.Trim(r.AdvanceReadinessScore),
        RecommendationDate = r.RecommendationDate,
        Priority = Data.Domain.Priority.Label(r.PriorityScore),
        PriorityScore = r.CustomerValueScore is { } cv && r.AdvanceReadinessScore is { } ar
            ? RecordCodec.Trim(Data.Domain.Priority.Score(cv, ar)) : RecordCodec.Trim(r.PriorityScore),
    };

    /// Decodes the values of HMGET {RedisFields}; null when the key was absent.
    public static RecommendationView? FromRedis(string isdn, RedisValue[] v)
    {
        if (v[0].IsNull)
            return null;
        decimal? cv = Dec(v[10]), ar = Dec(v[11]);
        return new RecommendationView
        {
            Isdn = isdn,
            SubscriberType = Words.Intern(v[1]),
            ServiceType = Words.Intern(v[2]),
            AdvanceAmount = Dec(v[3]) ?? 0,
            RevenuePerAdvance = Dec(v[4]) ?? 0,
            ClusterGroup = Int(v[5]),
            BadDebtRisk = Words.Intern(v[6]),
            ArpuAvg6m = Dec(v[7]),
            ArpuGrowthRate = Dec(v[8]),
            ArpuTrend = v[9].IsNullOrEmpty ? null : Words.Intern(v[9]),
            CustomerValueScore = cv,
            AdvanceReadinessScore = ar,
            RecommendationDate = Date(v[12]),
            Priority = Words.Intern(v[13]),
            PriorityScore = cv is { } x && ar is { } y ? RecordCodec.Trim(Data.Domain.Priority.Score(x, y)) : null,
        };
    }

    internal static decimal? Dec(RedisValue value)
    {
        if (value.IsNullOrEmpty)
            return null;
        var span = ((ReadOnlyMemory<byte>)value).Span;
        return Utf8Parser.TryParse(span, out decimal d, out var used) && used == span.Length ? d : null;
    }

    internal static int? Int(RedisValue value)
    {
        if (value.IsNullOrEmpty)
            return null;
        var span = ((ReadOnlyMemory<byte>)value).Span;
        return Utf8Parser.TryParse(span, out int i, out var used) && used == span.Length ? i : null;
    }

    internal static DateOnly Date(RedisValue value)
    {
        if (value.IsNullOrEmpty)
            return default;
        var s = ((ReadOnlyMemory<byte>)value).Span;
        // yyyy-MM-dd, parsed without a string.
        if (s.Length == 10 && s[4] == '-' && s[7] == '-'
            && Utf8Parser.TryParse(s[..4], out int y, out _) && Utf8Parser.TryParse(s.Slice(5, 2), out int m, out _)
            && Utf8Parser.TryParse(s.Slice(8, 2), out int d, out _) && m is >= 1 and <= 12 && d >= 1 && d <= DateTime.DaysInMonth(y, m))
            return new DateOnly(y, m, d);
        return default;
    }
}

/// The closed vocabularies, so decoding a hash hands out the same string instances instead of
/// allocating a new one per field per request.
static class Words
{
    static readonly (byte[] Utf8, string Text)[] Known = Build(
        [.. Vocabulary.SubscriberTypes, .. Vocabulary.ServiceTypes, .. Vocabulary.RiskLevels, .. Vocabulary.Trends,
         .. Vocabulary.Priorities, .. Vocabulary.UserTypes, .. Vocabulary.TopupFrequencyClasses]);

    static (byte[], string)[] Build(string[] words) =>
        words.Distinct().Select(w => (System.Text.Encoding.UTF8.GetBytes(w), w)).ToArray();

    public static string Intern(RedisValue value)
    {
        if (value.IsNull)
            return "";
        var span = ((ReadOnlyMemory<byte>)value).Span;
        foreach (var (utf8, text) in Known)
            if (span.SequenceEqual(utf8))
                return text;
        return (string)value!;
    }
}
