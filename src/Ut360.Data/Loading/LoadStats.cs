namespace Ut360.Data.Loading;

/// recommendation_stats after a load (design 2.1): one row per dimension value and
/// recommendation_date present in the live data after the load.
static class LoadStats
{
    // Stats for every recommendation_date present in the live data after the merge; rows of
    // other dates are history and stay. Merged like the data so a repeated load changes nothing.
    public const string Merge = """
        CREATE TEMP TABLE stage_stats ON COMMIT DROP AS
        SELECT d.dimension_type, d.dimension_value, r.recommendation_date AS stats_date,
               count(*)::int AS total_count,
               sum(r.advance_amount) AS total_advance_amount,
               sum(r.revenue_per_advance) AS total_revenue_potential,
               round(avg(r.customer_value_score), 2) AS avg_customer_value_score,
               round(avg(r.advance_readiness_score), 2) AS avg_advance_readiness_score
        FROM recommendations r
        CROSS JOIN LATERAL (VALUES
            ('service', r.service_type),
            ('risk', r.bad_debt_risk),
            ('cluster', COALESCE(r.cluster_group::text, 'none')),
            ('date', r.recommendation_date::text)) AS d(dimension_type, dimension_value)
        GROUP BY 1, 2, 3;

        DELETE FROM recommendation_stats t
        WHERE t.stats_date IN (SELECT DISTINCT stats_date FROM stage_stats)
          AND NOT EXISTS (SELECT 1 FROM stage_stats s
                          WHERE s.dimension_type = t.dimension_type AND s.dimension_value = t.dimension_value
                            AND s.stats_date = t.stats_date);

        UPDATE recommendation_stats t
        SET (total_count, total_advance_amount, total_revenue_potential, avg_customer_value_score, avg_advance_readiness_score)
          = (s.total_count, s.total_advance_amount, s.total_revenue_potential, s.avg_customer_value_score, s.avg_advance_readiness_score)
        FROM stage_stats s
        WHERE s.dimension_type = t.dimension_type AND s.dimension_value = t.dimension_value AND s.stats_date = t.stats_date
          AND (t.total_count, t.total_advance_amount, t.total_revenue_potential, t.avg_customer_value_score, t.avg_advance_readiness_score)
              IS DISTINCT FROM
              (s.total_count, s.total_advance_amount, s.total_revenue_potential, s.avg_customer_value_score, s.avg_advance_readiness_score);

        INSERT INTO recommendation_stats (dimension_type, dimension_value, total_count, total_advance_amount,
            total_revenue_potential, avg_customer_value_score, avg_advance_readiness_score, stats_date, created_at)
        SELECT s.dimension_type, s.dimension_value, s.total_count, s.total_advance_amount, s.total_revenue_potential,
               s.avg_customer_value_score, s.avg_advance_readiness_score, s.stats_date, (now() AT TIME ZONE 'UTC')
        FROM stage_stats s
        WHERE NOT EXISTS (SELECT 1 FROM recommendation_stats t
                          WHERE s.dimension_type = t.dimension_type AND s.dimension_value = t.dimension_value
                            AND s.stats_date = t.stats_date)
        ORDER BY s.stats_date, s.dimension_type, s.dimension_value;

        SELECT count(*) FROM stage_stats;
        """;
}
