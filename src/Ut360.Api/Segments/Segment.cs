using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Api.Segments;

public enum SegmentKind { Service, Risk, Cluster }

/// One list of subscribers: a service (sorted set by priority), a risk level or a cluster
/// (sets). Values reach SQL only as parameters and Redis only inside a key name built from a
/// validated vocabulary word or integer.
public sealed record Segment(SegmentKind Kind, string Value, RedisKey Key)
{
    public string Id => $"{Kind}:{Value}";

    public static Segment Service(RedisKeys keys, string type) => new(SegmentKind.Service, type, keys.ServiceIndex(type));
    public static Segment Risk(RedisKeys keys, string level) => new(SegmentKind.Risk, level, keys.RiskIndex(level));
    public static Segment Cluster(RedisKeys keys, int id) => new(SegmentKind.Cluster, id.ToString(System.Globalization.CultureInfo.InvariantCulture), keys.ClusterIndex(id));

    /// The WHERE clause selecting this segment in `recommendations` (the parameter is @v).
    public string Where => Kind switch
    {
        SegmentKind.Service => "service_type = @v",
        SegmentKind.Risk => "bad_debt_risk = @v",
        _ => "cluster_group = @v",
    };

    /// Whether the record belongs in this list. False for a record written ahead of its indexes
    /// by a sync killed before its publish (docs/redis.md, "Self-repair"): the index, still of
    /// the previous version, lists a subscriber whose record already says another list.
    public bool Lists(Recommendations.RecommendationView view) => Kind switch
    {
        SegmentKind.Service => view.ServiceType == Value,
        SegmentKind.Risk => view.BadDebtRisk == Value,
        _ => view.ClusterGroup?.ToString(System.Globalization.CultureInfo.InvariantCulture) == Value,
    };

    public NpgsqlParameter Parameter() => Kind == SegmentKind.Cluster
        ? new NpgsqlParameter<int>("v", int.Parse(Value, System.Globalization.CultureInfo.InvariantCulture))
        : new NpgsqlParameter<string>("v", Value);
}
