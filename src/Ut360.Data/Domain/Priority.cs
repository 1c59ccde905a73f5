namespace Ut360.Data.Domain;

/// The design gives the priority formula three ways (see docs/decisions.md). We keep one
/// product of the two 0–100 scores and scale it for each place:
/// - recommendations.priority_score = cv × ar / 100 (0–100; two decimals keep the order),
/// - the ut360:idx:service:{type} sorted-set score = cv × ar / 10000 (0–1), as section 2.2 says.
/// Both orders are the same, so Pattern 4 (SQL) and ZREVRANGE (Redis) list subscribers alike.
public static class Priority
{
    public const decimal HighThreshold = 60m;
    public const decimal MediumThreshold = 35m;

    public static decimal Score(decimal customerValue, decimal advanceReadiness) =>
        Math.Round(customerValue * advanceReadiness / 100m, 2, MidpointRounding.AwayFromZero);

    public static double IndexScore(decimal customerValue, decimal advanceReadiness) =>
        (double)(customerValue * advanceReadiness / 10000m);

    /// HIGH / MEDIUM / LOW label from recommendations.priority_score (0–100 scale).
    public static string Label(decimal? priorityScore) => priorityScore switch
    {
        >= HighThreshold => "HIGH",
        >= MediumThreshold => "MEDIUM",
        _ => "LOW",
    };
}
