using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Ut360.Data.Domain;
using Ut360.Data.Records;

namespace Ut360.Data.Redis;

/// Receives the fields of one hash as UTF-8 bytes, in order.
public interface IHashFieldSink
{
    void Field(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}

/// Encodes rec and profile hashes (design section 2.2 A and B) straight to UTF-8: numbers
/// formatted into bytes, JSON sections written by one reused Utf8JsonWriter, no intermediate
/// strings. This is the only encoder: RecordCodec.EncodeRec/EncodeProfile (the API's cache
/// fills) go through it too, so the sync and the API write the same bytes. Not thread-safe: one
/// instance per writer.
public sealed class RecordEncoder
{
    /// Number of fields of a rec hash and of a profile hash.
    public const int RecFieldCount = 14;
    public const int ProfileFieldCount = 9;

    const string NumberFormat = "0.############";
    readonly ArrayBufferWriter<byte> _json = new(8192);
    readonly Utf8JsonWriter _w;
    byte[] _scratch = new byte[256];

    public RecordEncoder()
    {
        // The same options as ProfileJson.Utf8 (compact, Vietnamese left as UTF-8), so the bytes
        // equal what the source-generated serializer writes (tests compare them).
        _w = new Utf8JsonWriter(_json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
    }

    public void WriteRec(Recommendation r, IHashFieldSink sink)
    {
        Text(sink, "isdn"u8, r.Isdn);
        Text(sink, "subscriber_type"u8, r.SubscriberType);
        Text(sink, "service_type"u8, r.ServiceType);
        Number(sink, "advance_amount"u8, r.AdvanceAmount);
        Number(sink, "revenue_per_advance"u8, r.RevenuePerAdvance);
        Span<byte> b = stackalloc byte[48];
        var n = 0;
        if (r.ClusterGroup is { } c)
            c.TryFormat(b, out n, default, CultureInfo.InvariantCulture);
        sink.Field("cluster_group"u8, b[..n]);
        Text(sink, "bad_debt_risk"u8, r.BadDebtRisk);
        Number(sink, "arpu_avg_6m"u8, r.ArpuAvg6m);
        Number(sink, "arpu_growth_rate"u8, r.ArpuGrowthRate);
        Text(sink, "arpu_trend"u8, r.ArpuTrend ?? "");
        Number(sink, "customer_value_score"u8, r.CustomerValueScore);
        Number(sink, "advance_readiness_score"u8, r.AdvanceReadinessScore);
        r.RecommendationDate.TryFormat(b, out n, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        sink.Field("recommendation_date"u8, b[..n]);
        sink.Field("priority"u8, Priority.Label(r.PriorityScore) switch
        {
            "HIGH" => "HIGH"u8,
            "MEDIUM" => "MEDIUM"u8,
            _ => "LOW"u8,
        });
    }

    /// Writes a profile whose months are in p.MonthlyArpu (the API's path).
    public void WriteProfile(Profile p, DateTimeOffset updatedAt, IHashFieldSink sink)
    {
        WriteSections(p, sink);
        var w = Begin();
        w.WriteStartArray();
        foreach (var m in p.MonthlyArpu)
        {
            w.WriteStartObject();
            w.WriteString("month"u8, m.Month);
            Num(w, "arpu_call"u8, m.ArpuCall);
            Num(w, "arpu_sms"u8, m.ArpuSms);
            Num(w, "arpu_data"u8, m.ArpuData);
            Num(w, "arpu_total"u8, m.ArpuTotal);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        End(sink, "monthly_arpu"u8);
        WriteTail(p, updatedAt, sink);
    }

    /// Writes a profile whose monthly_arpu section comes ready-made (the sync's path:
    /// SubscriberQueries.ReadMonthlyJsonAsync builds the same bytes in PostgreSQL); empty means
    /// no months.
    public void WriteProfile(Profile p, ReadOnlySpan<byte> monthlyJson, DateTimeOffset updatedAt, IHashFieldSink sink)
    {
        WriteSections(p, sink);
        sink.Field("monthly_arpu"u8, monthlyJson.IsEmpty ? "[]"u8 : monthlyJson);
        WriteTail(p, updatedAt, sink);
    }

    void WriteSections(Profile p, IHashFieldSink sink)
    {
        var w = Begin();
        w.WriteStartObject();
        w.WriteString("isdn"u8, p.Isdn);
        w.WriteString("type"u8, p.SubscriberType);
        Str(w, "service"u8, p.ServiceType);
        Num(w, "advance"u8, p.AdvanceAmount);
        Num(w, "revenue"u8, p.RevenuePerAdvance);
        if (p.ClusterGroup is { } c)
            w.WriteNumber("cluster"u8, c);
        else
            w.WriteNull("cluster"u8);
        Str(w, "cluster_label"u8, p.ClusterLabel);
        w.WritePropertyName("profile_date"u8);
        Span<byte> date = stackalloc byte[16];
        p.ProfileDate.TryFormat(date, out var n, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        w.WriteStringValue(date[..n]);
        w.WriteEndObject();
        End(sink, "basic"u8);

        w = Begin();
        w.WriteStartObject();
        Num(w, "avg"u8, p.ArpuAvg6m);
        Num(w, "std"u8, p.ArpuStd6m);
        Num(w, "min"u8, p.ArpuMin6m);
        Num(w, "max"u8, p.ArpuMax6m);
        Num(w, "growth_rate"u8, p.ArpuGrowthRate);
        Str(w, "trend"u8, p.ArpuTrend);
        Num(w, "first_month"u8, p.ArpuFirstMonth);
        Num(w, "last_month"u8, p.ArpuLastMonth);
        w.WriteEndObject();
        End(sink, "arpu_stats"u8);

        w = Begin();
        w.WriteStartObject();
        Num(w, "call_pct"u8, p.RevenueCallPct);
        Num(w, "sms_pct"u8, p.RevenueSmsPct);
        Num(w, "data_pct"u8, p.RevenueDataPct);
        Str(w, "user_type"u8, p.UserType);
        w.WriteEndObject();
        End(sink, "revenue_breakdown"u8);

        w = Begin();
        w.WriteStartObject();
        Num(w, "frequency"u8, p.TopupFrequency);
        Num(w, "avg_amount"u8, p.TopupAvgAmount);
        Num(w, "ratio"u8, p.TopupAdvanceRatio);
        Str(w, "frequency_class"u8, p.TopupFrequencyClass);
        Num(w, "min_amount"u8, p.TopupMinAmount);
        Num(w, "max_amount"u8, p.TopupMaxAmount);
        w.WriteEndObject();
        End(sink, "topup_behavior"u8);

        w = Begin();
        w.WriteStartObject();
        Str(w, "level"u8, p.BadDebtRisk);
        Num(w, "score"u8, p.RiskScore);
        List(w, "factors"u8, p.RiskFactors);
        w.WriteEndObject();
        End(sink, "risk_assessment"u8);

        w = Begin();
        w.WriteStartObject();
        Num(w, "customer_value"u8, p.CustomerValueScore);
        Num(w, "advance_readiness"u8, p.AdvanceReadinessScore);
        Num(w, "revenue_potential"u8, p.RevenuePotential);
        w.WriteEndObject();
        End(sink, "kpi_scores"u8);

    }

    void WriteTail(Profile p, DateTimeOffset updatedAt, IHashFieldSink sink)
    {
        var w = Begin();
        w.WriteStartObject();
        Str(w, "classification_reason"u8, p.ClassificationReason);
        List(w, "strengths"u8, p.Strengths);
        List(w, "recommendations"u8, p.RecommendationsText);
        w.WriteEndObject();
        End(sink, "insights"u8);

        Span<byte> time = stackalloc byte[32];
        updatedAt.UtcDateTime.TryFormat(time, out var n, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        sink.Field("updated_at"u8, time[..n]);
    }

    Utf8JsonWriter Begin()
    {
        _json.ResetWrittenCount();
        _w.Reset();
        return _w;
    }

    void End(IHashFieldSink sink, ReadOnlySpan<byte> name)
    {
        _w.Flush();
        sink.Field(name, _json.WrittenSpan);
    }

    static void Str(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is null)
            w.WriteNull(name);
        else
            w.WriteString(name, value);
    }

    // As the serializer writes the sections: RecordCodec.Trim drops numeric(p,2)'s trailing zeros.
    static void Num(Utf8JsonWriter w, ReadOnlySpan<byte> name, decimal? value)
    {
        if (RecordCodec.Trim(value) is { } v)
            w.WriteNumber(name, v);
        else
            w.WriteNull(name);
    }

    static void List(Utf8JsonWriter w, ReadOnlySpan<byte> name, IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartArray(name);
        foreach (var s in values)
            w.WriteStringValue(s);
        w.WriteEndArray();
    }

    void Text(IHashFieldSink sink, ReadOnlySpan<byte> name, string value)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (_scratch.Length < max)
            _scratch = new byte[max * 2];
        var n = Encoding.UTF8.GetBytes(value, _scratch);
        sink.Field(name, _scratch.AsSpan(0, n));
    }

    static void Number(IHashFieldSink sink, ReadOnlySpan<byte> name, decimal? value)
    {
        Span<byte> b = stackalloc byte[64];
        var n = 0;
        if (value is { } v)
            v.TryFormat(b, out n, NumberFormat, CultureInfo.InvariantCulture);
        sink.Field(name, b[..n]);
    }
}
