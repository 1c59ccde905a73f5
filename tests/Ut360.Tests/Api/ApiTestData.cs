using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;
using Ut360.Data.Domain;
using Ut360.Data.Records;
using Ut360.Data.Redis;

namespace Ut360.Tests.Api;

/// Deterministic subscribers for the API tests, written to PostgreSQL with SQL and to Redis the
/// way the sync lays them out (RecordCodec, RedisKeys), so the tests need neither the
/// generator nor the sync.
public static class ApiTestData
{
    static readonly IsdnCipher Cipher = new();
    static readonly DateOnly Date = new(2025, 10, 22);

    public static string Msisdn(int i) => "849" + i.ToString("D8", System.Globalization.CultureInfo.InvariantCulture);

    public static string Isdn(int i)
    {
        lock (Cipher)
            return Cipher.Encrypt(Msisdn(i));
    }

    /// Subscriber i: service i % 3, risk MEDIUM every 5th (else LOW), cluster i % 4.
    public static Recommendation Rec(int i)
    {
        decimal cv = 20 + i % 80, ar = 10 + (i * 7) % 90;
        return new Recommendation
        {
            Isdn = Isdn(i),
            SubscriberType = i % 2 == 0 ? "PRE" : "POS",
            ServiceType = Vocabulary.ServiceTypes[i % 3],
            AdvanceAmount = 10000 + 5000 * (i % 5),
            RevenuePerAdvance = 3000 + 1500 * (i % 5),
            ClusterGroup = i % 4,
            BadDebtRisk = i % 5 == 0 ? "MEDIUM" : "LOW",
            ArpuAvg6m = 2757.5m + i,
            ArpuGrowthRate = -56.7m,
            ArpuTrend = Vocabulary.Trends[i % 3],
            CustomerValueScore = cv,
            AdvanceReadinessScore = ar,
            PriorityScore = Priority.Score(cv, ar),
            RecommendationDate = Date,
        };
    }

    public static Profile Profile(int i)
    {
        var r = Rec(i);
        return new Profile
        {
            Isdn = r.Isdn,
            SubscriberType = r.SubscriberType,
            ServiceType = r.ServiceType,
            AdvanceAmount = r.AdvanceAmount,
            RevenuePerAdvance = r.RevenuePerAdvance,
            ArpuAvg6m = r.ArpuAvg6m,
            ArpuTrend = r.ArpuTrend,
            BadDebtRisk = r.BadDebtRisk,
            RiskScore = 12.5m,
            RiskFactors = ["Giảm ARPU"],
            CustomerValueScore = r.CustomerValueScore,
            AdvanceReadinessScore = r.AdvanceReadinessScore,
            RevenuePotential = 7500,
            ClusterGroup = r.ClusterGroup,
            ClusterLabel = $"Cluster {r.ClusterGroup}",
            ClassificationReason = "Ổn định",
            Strengths = ["Nạp tiền đều"],
            RecommendationsText = ["EasyCredit 25000"],
            ProfileDate = Date,
            MonthlyArpu = [.. Enumerable.Range(3, 6).Select(m => new MonthlyArpu($"2025{m:D2}", 1000 + m, 200, 300 + i % 7, 1500 + m))],
        };
    }

    public static async Task InsertAsync(NpgsqlDataSource db, IReadOnlyList<int> ids, bool profiles = true)
    {
        var recs = ids.Select(Rec).ToList();
        await using (var cmd = db.CreateCommand("""
            INSERT INTO recommendations (isdn, subscriber_type, service_type, advance_amount, revenue_per_advance, cluster_group,
                bad_debt_risk, arpu_avg_6m, arpu_growth_rate, arpu_trend, customer_value_score, advance_readiness_score,
                priority_score, recommendation_date)
            SELECT * FROM unnest(@isdn, @st, @svc, @adv, @rev, @cl, @risk, @arpu, @growth, @trend, @cv, @ar, @ps, @date)
            """))
        {
            cmd.Parameters.AddWithValue("isdn", recs.Select(r => r.Isdn).ToArray());
            cmd.Parameters.AddWithValue("st", recs.Select(r => r.SubscriberType).ToArray());
            cmd.Parameters.AddWithValue("svc", recs.Select(r => r.ServiceType).ToArray());
            cmd.Parameters.AddWithValue("adv", recs.Select(r => r.AdvanceAmount).ToArray());
            cmd.Parameters.AddWithValue("rev", recs.Select(r => r.RevenuePerAdvance).ToArray());
            cmd.Parameters.AddWithValue("cl", recs.Select(r => r.ClusterGroup ?? 0).ToArray());
            cmd.Parameters.AddWithValue("risk", recs.Select(r => r.BadDebtRisk).ToArray());
            cmd.Parameters.AddWithValue("arpu", recs.Select(r => r.ArpuAvg6m ?? 0).ToArray());
            cmd.Parameters.AddWithValue("growth", recs.Select(r => r.ArpuGrowthRate ?? 0).ToArray());
            cmd.Parameters.AddWithValue("trend", recs.Select(r => r.ArpuTrend ?? "").ToArray());
            cmd.Parameters.AddWithValue("cv", recs.Select(r => r.CustomerValueScore ?? 0).ToArray());
            cmd.Parameters.AddWithValue("ar", recs.Select(r => r.AdvanceReadinessScore ?? 0).ToArray());
            cmd.Parameters.AddWithValue("ps", recs.Select(r => r.PriorityScore ?? 0).ToArray());
            cmd.Parameters.Add(new NpgsqlParameter("date", NpgsqlDbType.Array | NpgsqlDbType.Date) { Value = recs.Select(r => r.RecommendationDate).ToArray() });
            await cmd.ExecuteNonQueryAsync();
        }
        if (!profiles)
            return;
        var ps = ids.Select(Profile).ToList();
        await using (var cmd = db.CreateCommand("""
            INSERT INTO subscriber_360_profiles (isdn, subscriber_type, service_type, advance_amount, revenue_per_advance,
                arpu_avg_6m, arpu_trend, bad_debt_risk, risk_score, risk_factors, customer_value_score, advance_readiness_score,
                revenue_potential, cluster_group, cluster_label, classification_reason, strengths, recommendations_text, profile_date)
            SELECT i, st, svc, adv, rev, arpu, trend, risk, 12.5, '["Giảm ARPU"]'::jsonb, cv, ar, 7500, cl, 'Cluster ' || cl,
                   'Ổn định', '["Nạp tiền đều"]'::jsonb, '["EasyCredit 25000"]'::jsonb, DATE '2025-10-22'
              FROM unnest(@isdn, @st, @svc, @adv, @rev, @arpu, @trend, @risk, @cv, @ar, @cl) AS t(i, st, svc, adv, rev, arpu, trend, risk, cv, ar, cl)
            """))
        {
            cmd.Parameters.AddWithValue("isdn", ps.Select(p => p.Isdn).ToArray());
            cmd.Parameters.AddWithValue("st", ps.Select(p => p.SubscriberType).ToArray());
            cmd.Parameters.AddWithValue("svc", ps.Select(p => p.ServiceType!).ToArray());
            cmd.Parameters.AddWithValue("adv", ps.Select(p => p.AdvanceAmount ?? 0).ToArray());
            cmd.Parameters.AddWithValue("rev", ps.Select(p => p.RevenuePerAdvance ?? 0).ToArray());
            cmd.Parameters.AddWithValue("arpu", ps.Select(p => p.ArpuAvg6m ?? 0).ToArray());
            cmd.Parameters.AddWithValue("trend", ps.Select(p => p.ArpuTrend ?? "").ToArray());
            cmd.Parameters.AddWithValue("risk", ps.Select(p => p.BadDebtRisk ?? "").ToArray());
            cmd.Parameters.AddWithValue("cv", ps.Select(p => p.CustomerValueScore ?? 0).ToArray());
            cmd.Parameters.AddWithValue("ar", ps.Select(p => p.AdvanceReadinessScore ?? 0).ToArray());
            cmd.Parameters.AddWithValue("cl", ps.Select(p => p.ClusterGroup ?? 0).ToArray());
            await cmd.ExecuteNonQueryAsync();
        }
        // Months deliberately inserted newest first: the API must return them in month order.
        await using (var cmd = db.CreateCommand("""
            INSERT INTO subscriber_monthly_arpu (isdn, data_month, arpu_call, arpu_sms, arpu_data, arpu_total)
            SELECT * FROM unnest(@isdn, @month, @call, @sms, @data, @total)
            """))
        {
            var months = ps.SelectMany(p => p.MonthlyArpu.Reverse().Select(m => (p.Isdn, m))).ToList();
            cmd.Parameters.AddWithValue("isdn", months.Select(x => x.Isdn).ToArray());
            cmd.Parameters.AddWithValue("month", months.Select(x => x.m.Month).ToArray());
            cmd.Parameters.AddWithValue("call", months.Select(x => x.m.ArpuCall ?? 0).ToArray());
            cmd.Parameters.AddWithValue("sms", months.Select(x => x.m.ArpuSms ?? 0).ToArray());
            cmd.Parameters.AddWithValue("data", months.Select(x => x.m.ArpuData ?? 0).ToArray());
            cmd.Parameters.AddWithValue("total", months.Select(x => x.m.ArpuTotal ?? 0).ToArray());
            await cmd.ExecuteNonQueryAsync();
        }
    }

    /// What a sync writes: rec and profile hashes with the 7-day TTL, and the indexes.
    public static async Task SyncAsync(IDatabase redis, RedisKeys keys, IReadOnlyList<int> ids, bool indexes = true, bool profiles = true)
    {
        var batch = redis.CreateBatch();
        var tasks = new List<Task>();
        foreach (var i in ids)
        {
            var r = Rec(i);
            tasks.Add(batch.HashSetAsync(keys.Rec(r.Isdn), RecordCodec.EncodeRec(r)));
            tasks.Add(batch.KeyExpireAsync(keys.Rec(r.Isdn), RedisKeys.RecordTtl));
            if (profiles)
            {
                tasks.Add(batch.HashSetAsync(keys.Profile(r.Isdn), RecordCodec.EncodeProfile(Profile(i), DateTimeOffset.UtcNow)));
                tasks.Add(batch.KeyExpireAsync(keys.Profile(r.Isdn), RedisKeys.RecordTtl));
            }
            if (indexes)
            {
                tasks.Add(batch.SortedSetAddAsync(keys.ServiceIndex(r.ServiceType), r.Isdn, Priority.IndexScore(r.CustomerValueScore!.Value, r.AdvanceReadinessScore!.Value)));
                tasks.Add(batch.SetAddAsync(keys.RiskIndex(r.BadDebtRisk), r.Isdn));
                tasks.Add(batch.SetAddAsync(keys.ClusterIndex(r.ClusterGroup!.Value), r.Isdn));
            }
        }
        batch.Execute();
        await Task.WhenAll(tasks);
    }
}
