using System.Globalization;
using System.Text;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Api.Segments;

/// <summary>A campaign segment: any subset of service type × risk level × cluster × a minimum
/// priority score. Values reach SQL only as parameters and Redis only inside key names built
/// from validated vocabulary words and integers.</summary>
/// <param name="Service">service_type (EasyCredit, MBFG, ungsanluong), or null for any.</param>
/// <param name="Risk">bad_debt_risk (LOW, MEDIUM, HIGH), or null for any.</param>
/// <param name="Cluster">cluster_group, or null for any.</param>
/// <param name="MinPriority">Lowest priority_score (0–100, two decimals) included, or null.
/// priority_score is customer_value × advance_readiness / 100 rounded half away from zero to
/// two decimals (design §priority), so the bound on the unrounded product is min − 0.005.</param>
public sealed record SegmentFilter(string? Service, string? Risk, int? Cluster, decimal? MinPriority)
{
    /// The lowest customer_value × advance_readiness (0–10,000) a member may have.
    public decimal? MinProduct => MinPriority is { } m ? (m - 0.005m) * 100m : null;

    /// The same bound on the sorted-set score (cv × ar / 10,000), converted from the decimal as
    /// the sync converts each member's score, so both compare the same doubles.
    public double MinScore => MinProduct is { } p ? (double)(p / 10_000m) : double.NegativeInfinity;

    public string Where
    {
        get
        {
            var clauses = new List<string>(4);
            if (Service is not null)
                clauses.Add("service_type = @service");
            if (Risk is not null)
                clauses.Add("bad_debt_risk = @risk");
            if (Cluster is not null)
                clauses.Add("cluster_group = @cluster");
            if (MinProduct is not null)
                clauses.Add("coalesce(customer_value_score * advance_readiness_score, 0) >= @min_product");
            return clauses.Count == 0 ? "TRUE" : string.Join(" AND ", clauses);
        }
    }

    /// The parameters <see cref="Where"/> names.
    public void AddParameters(NpgsqlParameterCollection parameters)
    {
        if (Service is not null)
            parameters.Add(new NpgsqlParameter<string>("service", Service));
        if (Risk is not null)
            parameters.Add(new NpgsqlParameter<string>("risk", Risk));
        if (Cluster is { } c)
            parameters.Add(new NpgsqlParameter<int>("cluster", c));
        if (MinProduct is { } p)
            parameters.Add(new NpgsqlParameter<decimal>("min_product", p));
    }

    /// The index keys to intersect, the scored one (the service's sorted set) first with weight
    /// 1 and the sets with weight 0, so a member's score stays its priority.
    public RedisKey[] IndexKeys(RedisKeys keys)
    {
        var list = new List<RedisKey>(3) { keys.ServiceIndex(Service!) };
        if (Risk is not null)
            list.Add(keys.RiskIndex(Risk));
        if (Cluster is { } c)
            list.Add(keys.ClusterIndex(c));
        return [.. list];
    }

    /// The short-lived intersection's key: the service index's name as its hash tag (the slot
    /// of the scored source), then the other filters.
    public RedisKey IntersectionKey(RedisKeys keys) =>
        $"{{{keys.ServiceIndex(Service!)}}}:segment:{Risk ?? "*"}:{(Cluster is { } c ? c.ToString(CultureInfo.InvariantCulture) : "*")}";

    public override string ToString()
    {
        var text = new StringBuilder();
        if (Service is not null) text.Append("service=").Append(Service).Append(' ');
        if (Risk is not null) text.Append("risk=").Append(Risk).Append(' ');
        if (Cluster is { } c) text.Append("cluster=").Append(c.ToString(CultureInfo.InvariantCulture)).Append(' ');
        if (MinPriority is { } m) text.Append("min_priority=").Append(m.ToString(CultureInfo.InvariantCulture));
        return text.ToString().TrimEnd();
    }
}
