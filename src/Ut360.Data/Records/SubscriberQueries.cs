using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;

namespace Ut360.Data.Records;

/// The PostgreSQL reads shared by the sync (all rows, streamed) and the API (a few keys, or many
/// at once with = ANY). One query per call, never one per row.
public static class SubscriberQueries
{
    const string RecommendationColumns = """
        id, isdn, subscriber_type, service_type, advance_amount, revenue_per_advance, cluster_group,
        bad_debt_risk, arpu_avg_6m, arpu_std_6m, arpu_min_6m, arpu_max_6m, arpu_growth_rate, arpu_trend,
        revenue_call_pct, revenue_sms_pct, revenue_data_pct, user_type, topup_frequency, topup_avg_amount,
        topup_advance_ratio, topup_frequency_class, customer_value_score, advance_readiness_score,
        priority_score, recommendation_date, updated_at
        """;

    const string ProfileColumns = """
        p.id, p.isdn, p.recommendation_id, p.subscriber_type, p.service_type, p.advance_amount,
        p.revenue_per_advance, p.arpu_avg_6m, p.arpu_std_6m, p.arpu_min_6m, p.arpu_max_6m,
        p.arpu_first_month, p.arpu_last_month, p.arpu_growth_rate, p.arpu_trend,
        p.revenue_call_pct, p.revenue_sms_pct, p.revenue_data_pct, p.user_type,
        p.topup_frequency, p.topup_avg_amount, p.topup_min_amount, p.topup_max_amount,
        p.topup_advance_ratio, p.topup_frequency_class, p.bad_debt_risk, p.risk_score,
        p.risk_factors::text, p.customer_value_score, p.advance_readiness_score, p.revenue_potential,
        p.cluster_group, p.cluster_label, p.classification_reason, p.strengths::text,
        p.recommendations_text::text, p.profile_date, p.updated_at
        """;

    // Monthly rows are aggregated per subscriber in the same statement, so a profile costs one
    // round trip whether one or ten thousand are asked for.
    const string ProfileSelect = $"""
        SELECT {ProfileColumns},
               (SELECT coalesce(json_agg(json_build_array(m.data_month, m.arpu_call, m.arpu_sms, m.arpu_data, m.arpu_total)
                                         ORDER BY m.data_month), '[]')::text
                  FROM subscriber_monthly_arpu m WHERE m.isdn = p.isdn) AS monthly
          FROM subscriber_360_profiles p
        """;

    public static async Task<Recommendation?> GetRecommendationAsync(NpgsqlDataSource db, string isdn, CancellationToken ct)
    {
        await foreach (var r in GetRecommendationsAsync(db, [isdn], ct))
            return r;
        return null;
    }

    public static async IAsyncEnumerable<Recommendation> GetRecommendationsAsync(
        NpgsqlDataSource db, IReadOnlyCollection<string> isdns, [EnumeratorCancellation] CancellationToken ct)
    {
        // One index probe per ISDN asked for. The plain `isdn = ANY(@isdns)` lets the planner pick
        // a parallel sequential scan once a list is in the thousands: 180-300 ms for 10,000 ISDNs
        // against ~25 ms of probes. The LIMIT keeps the lateral subquery from being flattened
        // into a hash join (isdn is unique, so it drops nothing).
        await using var cmd = db.CreateCommand($"""
            SELECT {RecommendationColumns}
              FROM unnest(@isdns::text[]) AS wanted(key)
             CROSS JOIN LATERAL (SELECT * FROM recommendations r WHERE r.isdn = wanted.key LIMIT 1) r
            """);
        cmd.Parameters.AddWithValue("isdns", isdns.ToArray());
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            yield return ReadRecommendation(reader);
    }

    public static async Task<Profile?> GetProfileAsync(NpgsqlDataSource db, string isdn, CancellationToken ct)
    {
        await foreach (var p in GetProfilesAsync(db, [isdn], ct))
            return p;
        return null;
    }

    public static async IAsyncEnumerable<Profile> GetProfilesAsync(
        NpgsqlDataSource db, IReadOnlyCollection<string> isdns, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"{ProfileSelect} WHERE p.isdn = ANY(@isdns)");
        cmd.Parameters.AddWithValue("isdns", isdns.ToArray());
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            yield return ReadProfile(reader);
    }

    /// The profiles of an ISDN range (or those of it among some ISDNs) without their months, in
    /// no particular order: with ReadMonthlyJsonAsync of the same range in the same snapshot, the
    /// sync's read (months grouped once instead of a subquery per profile).
    public static async IAsyncEnumerable<Profile> StreamProfileRowsAsync(
        NpgsqlConnection conn, string[]? isdns, IsdnRange range, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            $"SELECT {ProfileColumns} FROM subscriber_360_profiles p WHERE {Where("p", isdns, range)}", conn);
        Bind(cmd, isdns, range);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            yield return ReadProfile(reader);
    }

    /// ISDN ranges that cut the profiles into parts of about equal size, bounded in the
    /// database's own collation, so every ISDN falls in exactly one of them.
    public static async Task<IReadOnlyList<IsdnRange>> SplitProfilesAsync(NpgsqlConnection conn, int parts, CancellationToken ct)
    {
        if (parts <= 1)
            return [IsdnRange.All];
        await using var cmd = new NpgsqlCommand(
            "SELECT percentile_disc(@fractions) WITHIN GROUP (ORDER BY isdn) FROM subscriber_360_profiles", conn);
        cmd.Parameters.AddWithValue("fractions", Enumerable.Range(1, parts - 1).Select(i => (double)i / parts).ToArray());
        var bounds = await cmd.ExecuteScalarAsync(ct) is string[] b ? b.Distinct(StringComparer.Ordinal).ToList() : [];
        var ranges = new List<IsdnRange>(bounds.Count + 1);
        string? lo = null;
        foreach (var hi in bounds)
        {
            ranges.Add(new IsdnRange(lo, hi));
            lo = hi;
        }
        ranges.Add(new IsdnRange(lo, null));
        return ranges;
    }

    static string Where(string alias, string[]? isdns, IsdnRange range)
    {
        var parts = new List<string> { "true" };
        if (isdns is not null)
            parts.Add($"{alias}.isdn = ANY(@isdns)");
        if (range.From is not null)
            parts.Add($"{alias}.isdn >= @from");
        if (range.To is not null)
            parts.Add($"{alias}.isdn < @to");
        return string.Join(" AND ", parts);
    }

    static void Bind(NpgsqlCommand cmd, string[]? isdns, IsdnRange range)
    {
        if (isdns is not null)
            cmd.Parameters.AddWithValue("isdns", isdns);
        if (range.From is { } from)
            cmd.Parameters.AddWithValue("from", NpgsqlTypes.NpgsqlDbType.Varchar, from);
        if (range.To is { } to)
            cmd.Parameters.AddWithValue("to", NpgsqlTypes.NpgsqlDbType.Varchar, to);
    }

    // Each subscriber's monthly_arpu section, built by PostgreSQL as the exact JSON the encoder
    // writes (RecordEncoder.WriteProfile: compact, months in order, numbers without trailing
    // zeros; tests compare the two): one row per subscriber instead of seven, no parsing here.
    // trim_scale(numeric)::text is the text of RecordCodec.Trim's decimal; months are YYYYMM.
    const string MonthlyJsonSql = """
        SELECT m.isdn,
               convert_to('[' || string_agg(
                   '{"month":' || to_json(m.data_month)::text
                   || ',"arpu_call":' || coalesce(trim_scale(m.arpu_call)::text, 'null')
                   || ',"arpu_sms":' || coalesce(trim_scale(m.arpu_sms)::text, 'null')
                   || ',"arpu_data":' || coalesce(trim_scale(m.arpu_data)::text, 'null')
                   || ',"arpu_total":' || coalesce(trim_scale(m.arpu_total)::text, 'null') || '}',
                   ',' ORDER BY m.data_month) || ']', 'UTF8')
          FROM subscriber_monthly_arpu m
        """;

    /// The monthly_arpu JSON (UTF-8) of every profile of a range, or of some ISDNs, by ISDN; a
    /// profile without months is absent.
    public static async Task<MonthlyJson> ReadMonthlyJsonAsync(NpgsqlConnection conn, string[]? isdns, IsdnRange range, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"{MonthlyJsonSql} WHERE {Where("m", isdns, range)} GROUP BY m.isdn", conn);
        Bind(cmd, isdns, range);
        var months = new MonthlyJson();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            months.Add(reader.GetString(0), reader);
        return months;
    }

    /// Only what the rec hash and the meta use, for the sync (the API reads every column).
    const string SyncRecommendationColumns = """
        isdn, subscriber_type, service_type, advance_amount, revenue_per_advance, cluster_group,
        bad_debt_risk, arpu_avg_6m, arpu_growth_rate, arpu_trend, customer_value_score,
        advance_readiness_score, priority_score, recommendation_date
        """;

    /// Every recommendation (or those of some ISDNs) with the columns the rec hash and the meta
    /// need, in no particular order (a sequential scan, or index probes for the ISDNs).
    public static async IAsyncEnumerable<Recommendation> StreamRecommendationsForSyncAsync(
        NpgsqlConnection conn, string[]? isdns, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            $"SELECT {SyncRecommendationColumns} FROM recommendations r WHERE {Where("r", isdns, IsdnRange.All)}", conn);
        Bind(cmd, isdns, IsdnRange.All);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            yield return new Recommendation
            {
                Isdn = r.GetString(0),
                SubscriberType = r.GetString(1),
                ServiceType = r.GetString(2),
                AdvanceAmount = r.GetDecimal(3),
                RevenuePerAdvance = r.GetDecimal(4),
                ClusterGroup = r.IsDBNull(5) ? null : r.GetInt32(5),
                BadDebtRisk = r.GetString(6),
                ArpuAvg6m = Dec(r, 7),
                ArpuGrowthRate = Dec(r, 8),
                ArpuTrend = Str(r, 9),
                CustomerValueScore = Dec(r, 10),
                AdvanceReadinessScore = Dec(r, 11),
                PriorityScore = Dec(r, 12),
                RecommendationDate = r.GetFieldValue<DateOnly>(13),
            };
        }
    }

    static Recommendation ReadRecommendation(NpgsqlDataReader r) => new()
    {
        Id = r.GetInt64(0),
        Isdn = r.GetString(1),
        SubscriberType = r.GetString(2),
        ServiceType = r.GetString(3),
        AdvanceAmount = r.GetDecimal(4),
        RevenuePerAdvance = r.GetDecimal(5),
        ClusterGroup = r.IsDBNull(6) ? null : r.GetInt32(6),
        BadDebtRisk = r.GetString(7),
        ArpuAvg6m = Dec(r, 8),
        ArpuStd6m = Dec(r, 9),
        ArpuMin6m = Dec(r, 10),
        ArpuMax6m = Dec(r, 11),
        ArpuGrowthRate = Dec(r, 12),
        ArpuTrend = Str(r, 13),
        RevenueCallPct = Dec(r, 14),
        RevenueSmsPct = Dec(r, 15),
        RevenueDataPct = Dec(r, 16),
        UserType = Str(r, 17),
        TopupFrequency = Dec(r, 18),
        TopupAvgAmount = Dec(r, 19),
        TopupAdvanceRatio = Dec(r, 20),
        TopupFrequencyClass = Str(r, 21),
        CustomerValueScore = Dec(r, 22),
        AdvanceReadinessScore = Dec(r, 23),
        PriorityScore = Dec(r, 24),
        RecommendationDate = r.GetFieldValue<DateOnly>(25),
        UpdatedAt = r.IsDBNull(26) ? null : r.GetDateTime(26),
    };

    static Profile ReadProfile(NpgsqlDataReader r) => new()
    {
        Id = r.GetInt64(0),
        Isdn = r.GetString(1),
        RecommendationId = r.IsDBNull(2) ? null : r.GetInt64(2),
        SubscriberType = r.GetString(3),
        ServiceType = Str(r, 4),
        AdvanceAmount = Dec(r, 5),
        RevenuePerAdvance = Dec(r, 6),
        ArpuAvg6m = Dec(r, 7),
        ArpuStd6m = Dec(r, 8),
        ArpuMin6m = Dec(r, 9),
        ArpuMax6m = Dec(r, 10),
        ArpuFirstMonth = Dec(r, 11),
        ArpuLastMonth = Dec(r, 12),
        ArpuGrowthRate = Dec(r, 13),
        ArpuTrend = Str(r, 14),
        RevenueCallPct = Dec(r, 15),
        RevenueSmsPct = Dec(r, 16),
        RevenueDataPct = Dec(r, 17),
        UserType = Str(r, 18),
        TopupFrequency = Dec(r, 19),
        TopupAvgAmount = Dec(r, 20),
        TopupMinAmount = Dec(r, 21),
        TopupMaxAmount = Dec(r, 22),
        TopupAdvanceRatio = Dec(r, 23),
        TopupFrequencyClass = Str(r, 24),
        BadDebtRisk = Str(r, 25),
        RiskScore = Dec(r, 26),
        RiskFactors = Strings(Str(r, 27)),
        CustomerValueScore = Dec(r, 28),
        AdvanceReadinessScore = Dec(r, 29),
        RevenuePotential = Dec(r, 30),
        ClusterGroup = r.IsDBNull(31) ? null : r.GetInt32(31),
        ClusterLabel = Str(r, 32),
        ClassificationReason = Str(r, 33),
        Strengths = Strings(Str(r, 34)),
        RecommendationsText = Strings(Str(r, 35)),
        ProfileDate = r.GetFieldValue<DateOnly>(36),
        UpdatedAt = r.IsDBNull(37) ? null : r.GetDateTime(37),
        // Only the queries with the aggregated months have column 38 (not the full sync's).
        MonthlyArpu = r.FieldCount > 38 ? Months(r.GetString(38)) : [],
    };

    static decimal? Dec(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDecimal(i);
    static string? Str(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    // jsonb arrays of strings (risk factors, strengths, recommendations). The common case (only
    // strings) is read with a Utf8JsonReader; anything else keeps its JSON text.
    static IReadOnlyList<string> Strings(string? json)
    {
        if (string.IsNullOrEmpty(json))
            return [];
        var max = System.Text.Encoding.UTF8.GetMaxByteCount(json.Length);
        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(max);
        try
        {
            var n = System.Text.Encoding.UTF8.GetBytes(json, rented);
            var reader = new Utf8JsonReader(rented.AsSpan(0, n));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                return [];
            var list = new List<string>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.String)
                    return StringsSlow(json);
                list.Add(reader.GetString()!);
            }
            return list;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    static IReadOnlyList<string> StringsSlow(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            return [];
        var list = new List<string>(doc.RootElement.GetArrayLength());
        foreach (var e in doc.RootElement.EnumerateArray())
            list.Add(e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText());
        return list;
    }

    static IReadOnlyList<MonthlyArpu> Months(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var list = new List<MonthlyArpu>(doc.RootElement.GetArrayLength());
        foreach (var e in doc.RootElement.EnumerateArray())
            list.Add(new MonthlyArpu(e[0].GetString()!, N(e[1]), N(e[2]), N(e[3]), N(e[4])));
        return list;

        static decimal? N(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDecimal() : null;
    }
}

/// Each subscriber's monthly_arpu JSON, packed into large shared buffers (one allocation per
/// 1 MB instead of one per subscriber: the whole set lives until the profiles are written, and
/// 200,000 small arrays would be copied through every GC generation).
public sealed class MonthlyJson
{
    const int ChunkSize = 1 << 20;
    readonly List<byte[]> _chunks = [];
    readonly Dictionary<string, (int Chunk, int Offset, int Length)> _byIsdn = new(StringComparer.Ordinal);
    int _used = ChunkSize;

    public int Count => _byIsdn.Count;

    internal void Add(string isdn, NpgsqlDataReader reader)
    {
        var length = (int)reader.GetBytes(1, 0, null, 0, 0);
        if (_used + length > ChunkSize)
        {
            _chunks.Add(new byte[Math.Max(ChunkSize, length)]);
            _used = 0;
        }
        var chunk = _chunks[^1];
        reader.GetBytes(1, 0, chunk, _used, length);
        _byIsdn[isdn] = (_chunks.Count - 1, _used, length);
        _used += length;
    }

    /// The subscriber's monthly_arpu JSON, or empty when it has no months.
    public ReadOnlySpan<byte> For(string isdn) =>
        _byIsdn.TryGetValue(isdn, out var at) ? _chunks[at.Chunk].AsSpan(at.Offset, at.Length) : default;
}

/// ISDNs from From (inclusive) to To (exclusive); null means unbounded.
public readonly record struct IsdnRange(string? From, string? To)
{
    public static readonly IsdnRange All = new(null, null);
}
