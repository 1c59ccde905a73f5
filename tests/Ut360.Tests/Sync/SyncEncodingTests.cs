using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;
using Ut360.Data.Domain;
using Ut360.Data.Records;
using Ut360.Data.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

/// The sync encodes straight to UTF-8 (RecordEncoder) and has PostgreSQL build the monthly_arpu
/// JSON; the bytes must be those of the reference encoding: the source-generated serializer over
/// ProfileSections and RecordCodec.Number, fed by the API's read (months aggregated per row).
public sealed class SyncEncodingTests
{
    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task Every_rec_and_profile_the_sync_writes_equals_the_reference_encoding_byte_for_byte(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 300);
        // Edge cases: text needing escapes (quote, backslash, control characters, emoji, HTML),
        // NULL numbers and labels, negative and zero amounts, a profile without months.
        await ExecAsync(db, """
            UPDATE subscriber_360_profiles
               SET classification_reason = 'quote " backslash \ newline' || chr(10) || 'tab' || chr(9) || 'bell' || chr(7) || ' emoji 😀 <b>&amp;</b> Tăng',
                   strengths = '["a\"b", "c\\d", "Tăng trưởng"]'::jsonb, risk_factors = '[]'::jsonb,
                   arpu_trend = NULL, cluster_group = NULL, cluster_label = NULL, arpu_growth_rate = -0.5
             WHERE id = 1;
            UPDATE subscriber_monthly_arpu SET arpu_call = NULL, arpu_data = -12.50, arpu_total = 0, arpu_sms = 100.10
             WHERE isdn = (SELECT isdn FROM recommendations WHERE id = 2);
            DELETE FROM subscriber_monthly_arpu WHERE isdn = (SELECT isdn FROM recommendations WHERE id = 3);
            UPDATE recommendations SET arpu_avg_6m = NULL, arpu_growth_rate = -0.5, arpu_trend = NULL, cluster_group = NULL WHERE id = 4;
            """);

        var result = await FullAsync(db, redis);
        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);

        var isdns = await IsdnsAsync(db, "true");
        var recs = 0;
        await foreach (var r in SubscriberQueries.GetRecommendationsAsync(db.DataSource, isdns, default))
        {
            AssertHash(ReferenceRec(r), await redis.Db.HashGetAllAsync(redis.Keys.Rec(r.Isdn)), r.Isdn);
            recs++;
        }
        var profiles = 0;
        await foreach (var p in SubscriberQueries.GetProfilesAsync(db.DataSource, isdns, default))
        {
            AssertHash(ReferenceProfile(p), await redis.Db.HashGetAllAsync(redis.Keys.Profile(p.Isdn)), p.Isdn);
            profiles++;
        }
        Assert.Equal(300, recs);
        Assert.Equal(300, profiles);
        // The API's encoder (the same RecordEncoder, months from the row) agrees as well.
        await foreach (var p in SubscriberQueries.GetProfilesAsync(db.DataSource, isdns.Take(20).ToList(), default))
            AssertHash(ReferenceProfile(p), RecordCodec.EncodeProfile(p, Utc(p.UpdatedAt!.Value)), p.Isdn);
    }

    static void AssertHash(Dictionary<string, string> expected, HashEntry[] actual, string isdn)
    {
        var got = actual.ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.Equal(expected.Keys.Order(), got.Keys.Order());
        foreach (var (field, value) in expected)
            Assert.True(value == got[field], $"{isdn} {field}:\n expected {value}\n actual   {got[field]}");
    }

    static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));

    // The encoding as it was written before the byte encoder: strings and the serializer.
    static Dictionary<string, string> ReferenceRec(Recommendation r) => new()
    {
        ["isdn"] = r.Isdn,
        ["subscriber_type"] = r.SubscriberType,
        ["service_type"] = r.ServiceType,
        ["advance_amount"] = RecordCodec.Number(r.AdvanceAmount),
        ["revenue_per_advance"] = RecordCodec.Number(r.RevenuePerAdvance),
        ["cluster_group"] = r.ClusterGroup?.ToString(CultureInfo.InvariantCulture) ?? "",
        ["bad_debt_risk"] = r.BadDebtRisk,
        ["arpu_avg_6m"] = r.ArpuAvg6m is { } a ? RecordCodec.Number(a) : "",
        ["arpu_growth_rate"] = r.ArpuGrowthRate is { } g ? RecordCodec.Number(g) : "",
        ["arpu_trend"] = r.ArpuTrend ?? "",
        ["customer_value_score"] = r.CustomerValueScore is { } cv ? RecordCodec.Number(cv) : "",
        ["advance_readiness_score"] = r.AdvanceReadinessScore is { } ar ? RecordCodec.Number(ar) : "",
        ["recommendation_date"] = r.RecommendationDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        ["priority"] = Priority.Label(r.PriorityScore),
    };

    static Dictionary<string, string> ReferenceProfile(Profile p)
    {
        var s = ProfileSections.From(p);
        var j = ProfileJson.Utf8;
        return new()
        {
            ["basic"] = JsonSerializer.Serialize(s.Basic, j.BasicSection),
            ["arpu_stats"] = JsonSerializer.Serialize(s.ArpuStats, j.ArpuStatsSection),
            ["revenue_breakdown"] = JsonSerializer.Serialize(s.RevenueBreakdown, j.RevenueBreakdownSection),
            ["topup_behavior"] = JsonSerializer.Serialize(s.TopupBehavior, j.TopupBehaviorSection),
            ["risk_assessment"] = JsonSerializer.Serialize(s.RiskAssessment, j.RiskAssessmentSection),
            ["kpi_scores"] = JsonSerializer.Serialize(s.KpiScores, j.KpiScoresSection),
            ["monthly_arpu"] = JsonSerializer.Serialize(s.MonthlyArpu, j.IReadOnlyListMonthlyArpuItem),
            ["insights"] = JsonSerializer.Serialize(s.Insights, j.InsightsSection),
            ["updated_at"] = Utc(p.UpdatedAt!.Value).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
    }
}
