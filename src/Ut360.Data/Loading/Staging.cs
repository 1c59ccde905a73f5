using Npgsql;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// The session-local staging tables a load writes the accepted rows into (temporary: no WAL,
/// no indexes, gone with the session if the process dies), their columns, and the few SQL
/// helpers every load step shares.
static class Staging
{
    public static readonly string[] RecCols = UpstreamFormat.Recommendations.Columns.Skip(1).Select(c => c.Name).ToArray();
    public static readonly string[] ProfileOwnCols = UpstreamFormat.Profiles.Columns.Skip(1).Select(c => c.Name).ToArray();
    public static readonly string[] MonthlyCols = ["arpu_call", "arpu_sms", "arpu_data", "arpu_total"];

    /// subscriber_360_profiles columns besides id, isdn and the timestamps, in table order.
    public static readonly string[] ProfileCols =
    [
        "recommendation_id", "subscriber_type", "service_type", "advance_amount", "revenue_per_advance",
        "arpu_avg_6m", "arpu_std_6m", "arpu_min_6m", "arpu_max_6m", "arpu_first_month", "arpu_last_month",
        "arpu_growth_rate", "arpu_trend", "revenue_call_pct", "revenue_sms_pct", "revenue_data_pct", "user_type",
        "topup_frequency", "topup_avg_amount", "topup_min_amount", "topup_max_amount", "topup_advance_ratio",
        "topup_frequency_class", "bad_debt_risk", "risk_score", "risk_factors", "customer_value_score",
        "advance_readiness_score", "revenue_potential", "cluster_group", "cluster_label", "classification_reason",
        "strengths", "recommendations_text", "profile_date",
    ];

    public static string List(IEnumerable<string> cols, string prefix = "") => string.Join(", ", cols.Select(c => prefix + c));

    public static readonly string Create = $"""
        DROP VIEW IF EXISTS stage_key;
        DROP TABLE IF EXISTS stage_rec, stage_profile, stage_monthly, stage_keep, load_changed;
        CREATE TEMP TABLE stage_rec AS SELECT 0 AS ord, isdn, {List(RecCols)} FROM recommendations WITH NO DATA;
        CREATE TEMP TABLE stage_profile AS SELECT 0 AS ord, isdn, {List(ProfileOwnCols)} FROM subscriber_360_profiles WITH NO DATA;
        CREATE TEMP TABLE stage_monthly AS SELECT 0 AS ord, isdn, data_month, {List(MonthlyCols)} FROM subscriber_monthly_arpu WITH NO DATA;
        CREATE TEMP TABLE stage_keep (isdn text COLLATE "C");
        CREATE TEMP TABLE load_changed (isdn text COLLATE "C", tbl "char", deleted boolean);
        """;

    public const string Drop = """
        DROP VIEW IF EXISTS stage_key;
        DROP TABLE IF EXISTS stage_rec, stage_profile, stage_monthly, stage_keep, load_changed, stage_rejected_key, stage_problem, stage_recisdn, stage_bad;
        """;

    public static async Task Exec(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// Runs a multi-statement batch and returns the count its last statement selects.
    public static async Task<int> Count(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        long value = 0;
        do
        {
            while (await reader.ReadAsync(ct))
                value = reader.GetInt64(0);
        } while (await reader.NextResultAsync(ct));
        return checked((int)value);
    }
}
