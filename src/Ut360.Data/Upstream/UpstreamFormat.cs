namespace Ut360.Data.Upstream;

public enum ColumnKind
{
    /// UTF-8 string.
    Text,
    /// 32-bit integer.
    Int,
    /// 64-bit float (what the ML pipeline's pandas writes); loaded into DECIMAL columns.
    Number,
    /// Calendar date: Parquet DATE, CSV YYYY-MM-DD.
    Date,
    /// A JSON array of strings, carried as text.
    JsonArray,
}

/// One column of an upstream file. MaxLength is the width of the PostgreSQL column it lands in.
public sealed record UpstreamColumn(string Name, ColumnKind Kind, bool Required, int? MaxLength = null);

public sealed record UpstreamFile(string Name, IReadOnlyList<UpstreamColumn> Columns)
{
    public string ParquetFile => Name + ".parquet";
    public string CsvFile => Name + ".csv";
}

/// The files the ML pipeline hands over (docs/data-format.md is the prose of this table).
/// The generator writes exactly these; the loader checks them before it changes anything.
public static class UpstreamFormat
{
    public static readonly UpstreamFile Recommendations = new("recommendations",
    [
        new("isdn", ColumnKind.Text, true, 255),
        new("subscriber_type", ColumnKind.Text, true, 10),
        new("service_type", ColumnKind.Text, true, 50),
        new("advance_amount", ColumnKind.Number, true),
        new("revenue_per_advance", ColumnKind.Number, true),
        new("cluster_group", ColumnKind.Int, false),
        new("bad_debt_risk", ColumnKind.Text, true, 20),
        new("arpu_avg_6m", ColumnKind.Number, false),
        new("arpu_std_6m", ColumnKind.Number, false),
        new("arpu_min_6m", ColumnKind.Number, false),
        new("arpu_max_6m", ColumnKind.Number, false),
        new("arpu_growth_rate", ColumnKind.Number, false),
        new("arpu_trend", ColumnKind.Text, false, 20),
        new("revenue_call_pct", ColumnKind.Number, false),
        new("revenue_sms_pct", ColumnKind.Number, false),
        new("revenue_data_pct", ColumnKind.Number, false),
        new("user_type", ColumnKind.Text, false, 50),
        new("topup_frequency", ColumnKind.Number, false),
        new("topup_avg_amount", ColumnKind.Number, false),
        new("topup_advance_ratio", ColumnKind.Number, false),
        new("topup_frequency_class", ColumnKind.Text, false, 20),
        new("customer_value_score", ColumnKind.Number, false),
        new("advance_readiness_score", ColumnKind.Number, false),
        new("priority_score", ColumnKind.Number, false),
        new("recommendation_date", ColumnKind.Date, true),
    ]);

    /// The 360-profile fields that recommendations.parquet does not carry; the rest of
    /// subscriber_360_profiles is filled from the subscriber's recommendation row.
    public static readonly UpstreamFile Profiles = new("profiles",
    [
        new("isdn", ColumnKind.Text, true, 255),
        new("arpu_first_month", ColumnKind.Number, false),
        new("arpu_last_month", ColumnKind.Number, false),
        new("topup_min_amount", ColumnKind.Number, false),
        new("topup_max_amount", ColumnKind.Number, false),
        new("risk_score", ColumnKind.Number, false),
        new("risk_factors", ColumnKind.JsonArray, false),
        new("revenue_potential", ColumnKind.Number, false),
        new("cluster_label", ColumnKind.Text, false, 100),
        new("classification_reason", ColumnKind.Text, false),
        new("strengths", ColumnKind.JsonArray, false),
        new("recommendations_text", ColumnKind.JsonArray, false),
        new("profile_date", ColumnKind.Date, true),
    ]);

    public static readonly UpstreamFile MonthlyArpu = new("monthly_arpu",
    [
        new("isdn", ColumnKind.Text, true, 255),
        new("data_month", ColumnKind.Text, true, 6),
        new("arpu_call", ColumnKind.Number, false),
        new("arpu_sms", ColumnKind.Number, false),
        new("arpu_data", ColumnKind.Number, false),
        new("arpu_total", ColumnKind.Number, false),
    ]);

    public static readonly IReadOnlyList<UpstreamFile> Files = [Recommendations, Profiles, MonthlyArpu];
}
