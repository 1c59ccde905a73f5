using System.Globalization;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Domain;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// The ut360:meta:stats hash (structure F): the design's fields, then what operators need.
/// A full sync counts while it streams, so the totals are exactly the sizes of the indexes it
/// publishes with them; an incremental sync recounts in PostgreSQL.
public sealed class MetaStats
{
    public long Subscribers { get; set; }
    public long Profiles { get; set; }
    public Dictionary<string, long> Services { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, long> Risks { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<int, long> Clusters { get; } = [];
    public Dictionary<string, long> Priorities { get; } = new(StringComparer.Ordinal);
    public decimal AdvanceSum { get; set; }
    public decimal RevenuePotentialSum { get; set; }

    public void Add(Records.Recommendation r)
    {
        Subscribers++;
        Services[r.ServiceType] = Services.GetValueOrDefault(r.ServiceType) + 1;
        Risks[r.BadDebtRisk] = Risks.GetValueOrDefault(r.BadDebtRisk) + 1;
        if (r.ClusterGroup is { } c)
            Clusters[c] = Clusters.GetValueOrDefault(c) + 1;
        var p = Priority.Label(r.PriorityScore);
        Priorities[p] = Priorities.GetValueOrDefault(p) + 1;
        AdvanceSum += r.AdvanceAmount;
    }

    public decimal AvgAdvance => Subscribers == 0 ? 0 : Math.Round(AdvanceSum / Subscribers, 2, MidpointRounding.AwayFromZero);

    public HashEntry[] ToHash(string dataVersion, DateTimeOffset lastUpdated, long syncId, string kind, TimeSpan? duration)
    {
        var e = new List<HashEntry>
        {
            new("total_subscribers", Subscribers),
        };
        foreach (var s in Vocabulary.ServiceTypes)
            e.Add(new("total_" + s.ToLowerInvariant(), Services.GetValueOrDefault(s)));
        foreach (var r in Vocabulary.RiskLevels)
            e.Add(new("total_" + r.ToLowerInvariant() + "_risk", Risks.GetValueOrDefault(r)));
        e.Add(new("avg_advance_amount", RecordCodec.Number(AvgAdvance)));
        e.Add(new("total_revenue_potential", RecordCodec.Number(RevenuePotentialSum)));
        e.Add(new("last_updated", lastUpdated.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)));
        e.Add(new("data_version", dataVersion));
        // Additions: per-cluster and per-priority counts, the profile count, and the sync that wrote it.
        e.Add(new("clusters", string.Join(',', Clusters.Keys.Select(k => k.ToString(CultureInfo.InvariantCulture)))));
        foreach (var (c, n) in Clusters)
            e.Add(new("total_cluster_" + c.ToString(CultureInfo.InvariantCulture), n));
        foreach (var p in Vocabulary.Priorities)
            e.Add(new("total_" + p.ToLowerInvariant() + "_priority", Priorities.GetValueOrDefault(p)));
        e.Add(new("total_profiles", Profiles));
        e.Add(new("sync_id", syncId));
        e.Add(new("sync_kind", kind));
        if (duration is { } d)
            e.Add(new("sync_duration_ms", (long)d.TotalMilliseconds));
        return [.. e];
    }

    const string CountSql = """
        SELECT service_type, bad_debt_risk, cluster_group,
               CASE WHEN priority_score >= @high THEN 'HIGH' WHEN priority_score >= @medium THEN 'MEDIUM' ELSE 'LOW' END,
               count(*), sum(advance_amount)
          FROM recommendations
         GROUP BY 1, 2, 3, 4
        """;

    const string ProfileSql = "SELECT count(*), coalesce(sum(revenue_potential), 0) FROM subscriber_360_profiles";

    /// Counts on a connection (the sync's snapshot, so the counts match the rows it pushed).
    public static async Task<MetaStats> FromPostgresAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var m = new MetaStats();
        await using (var cmd = new NpgsqlCommand(CountSql, conn))
        {
            cmd.Parameters.AddWithValue("high", Priority.HighThreshold);
            cmd.Parameters.AddWithValue("medium", Priority.MediumThreshold);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var n = r.GetInt64(4);
                string s = r.GetString(0), risk = r.GetString(1), p = r.GetString(3);
                m.Subscribers += n;
                m.Services[s] = m.Services.GetValueOrDefault(s) + n;
                m.Risks[risk] = m.Risks.GetValueOrDefault(risk) + n;
                if (!r.IsDBNull(2))
                    m.Clusters[r.GetInt32(2)] = m.Clusters.GetValueOrDefault(r.GetInt32(2)) + n;
                m.Priorities[p] = m.Priorities.GetValueOrDefault(p) + n;
                m.AdvanceSum += r.GetDecimal(5);
            }
        }
        await using (var cmd = new NpgsqlCommand(ProfileSql, conn))
        {
            await using var r = await cmd.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            m.Profiles = r.GetInt64(0);
            m.RevenuePotentialSum = r.GetDecimal(1);
        }
        return m;
    }
}
