namespace Ut360.Data.Records;

/// One row of `recommendations` (the columns the cache and the API use).
public sealed record Recommendation
{
    public long Id { get; init; }
    public required string Isdn { get; init; }
    public required string SubscriberType { get; init; }
    public required string ServiceType { get; init; }
    public decimal AdvanceAmount { get; init; }
    public decimal RevenuePerAdvance { get; init; }
    public int? ClusterGroup { get; init; }
    public required string BadDebtRisk { get; init; }
    public decimal? ArpuAvg6m { get; init; }
    public decimal? ArpuStd6m { get; init; }
    public decimal? ArpuMin6m { get; init; }
    public decimal? ArpuMax6m { get; init; }
    public decimal? ArpuGrowthRate { get; init; }
    public string? ArpuTrend { get; init; }
    public decimal? RevenueCallPct { get; init; }
    public decimal? RevenueSmsPct { get; init; }
    public decimal? RevenueDataPct { get; init; }
    public string? UserType { get; init; }
    public decimal? TopupFrequency { get; init; }
    public decimal? TopupAvgAmount { get; init; }
    public decimal? TopupAdvanceRatio { get; init; }
    public string? TopupFrequencyClass { get; init; }
    public decimal? CustomerValueScore { get; init; }
    public decimal? AdvanceReadinessScore { get; init; }
    public decimal? PriorityScore { get; init; }
    public DateOnly RecommendationDate { get; init; }
    public DateTime? UpdatedAt { get; init; }
}

public sealed record MonthlyArpu(string Month, decimal? ArpuCall, decimal? ArpuSms, decimal? ArpuData, decimal? ArpuTotal);

/// One row of `subscriber_360_profiles` with its `subscriber_monthly_arpu` rows in month order.
public sealed record Profile
{
    public long Id { get; init; }
    public required string Isdn { get; init; }
    public long? RecommendationId { get; init; }
    public required string SubscriberType { get; init; }
    public string? ServiceType { get; init; }
    public decimal? AdvanceAmount { get; init; }
    public decimal? RevenuePerAdvance { get; init; }
    public decimal? ArpuAvg6m { get; init; }
    public decimal? ArpuStd6m { get; init; }
    public decimal? ArpuMin6m { get; init; }
    public decimal? ArpuMax6m { get; init; }
    public decimal? ArpuFirstMonth { get; init; }
    public decimal? ArpuLastMonth { get; init; }
    public decimal? ArpuGrowthRate { get; init; }
    public string? ArpuTrend { get; init; }
    public decimal? RevenueCallPct { get; init; }
    public decimal? RevenueSmsPct { get; init; }
    public decimal? RevenueDataPct { get; init; }
    public string? UserType { get; init; }
    public decimal? TopupFrequency { get; init; }
    public decimal? TopupAvgAmount { get; init; }
    public decimal? TopupMinAmount { get; init; }
    public decimal? TopupMaxAmount { get; init; }
    public decimal? TopupAdvanceRatio { get; init; }
    public string? TopupFrequencyClass { get; init; }
    public string? BadDebtRisk { get; init; }
    public decimal? RiskScore { get; init; }
    public IReadOnlyList<string> RiskFactors { get; init; } = [];
    public decimal? CustomerValueScore { get; init; }
    public decimal? AdvanceReadinessScore { get; init; }
    public decimal? RevenuePotential { get; init; }
    public int? ClusterGroup { get; init; }
    public string? ClusterLabel { get; init; }
    public string? ClassificationReason { get; init; }
    public IReadOnlyList<string> Strengths { get; init; } = [];
    public IReadOnlyList<string> RecommendationsText { get; init; } = [];
    public DateOnly ProfileDate { get; init; }
    public DateTime? UpdatedAt { get; init; }
    public IReadOnlyList<MonthlyArpu> MonthlyArpu { get; init; } = [];
}
