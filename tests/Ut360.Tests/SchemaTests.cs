using Npgsql;
using Ut360.Data.Schema;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests;

/// The applied schema, read back from the catalog, equals section 3.1 of the design document.
public sealed class SchemaTests : IAsyncLifetime
{
    TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync();
    public async Task DisposeAsync() => await _db.DisposeAsync();

    // (column, type as information_schema formats it, nullable) in the design's order.
    static readonly Dictionary<string, (string Column, string Type, bool Nullable)[]> DesignColumns = new()
    {
        ["recommendations"] =
        [
            ("id", "bigint", false), ("isdn", "character varying(255)", false), ("subscriber_type", "character varying(10)", false),
            ("service_type", "character varying(50)", false), ("advance_amount", "numeric(12,2)", false),
            ("revenue_per_advance", "numeric(12,2)", false), ("cluster_group", "integer", true),
            ("bad_debt_risk", "character varying(20)", false), ("arpu_avg_6m", "numeric(10,2)", true),
            ("arpu_std_6m", "numeric(10,2)", true), ("arpu_min_6m", "numeric(10,2)", true), ("arpu_max_6m", "numeric(10,2)", true),
            ("arpu_growth_rate", "numeric(10,2)", true), ("arpu_trend", "character varying(20)", true),
            ("revenue_call_pct", "numeric(5,2)", true), ("revenue_sms_pct", "numeric(5,2)", true), ("revenue_data_pct", "numeric(5,2)", true),
            ("user_type", "character varying(50)", true), ("topup_frequency", "numeric(5,2)", true),
            ("topup_avg_amount", "numeric(10,2)", true), ("topup_advance_ratio", "numeric(10,4)", true),
            ("topup_frequency_class", "character varying(20)", true), ("customer_value_score", "numeric(5,2)", true),
            ("advance_readiness_score", "numeric(5,2)", true), ("priority_score", "numeric(10,2)", true),
            ("recommendation_date", "date", false), ("created_at", "timestamp without time zone", true),
            ("updated_at", "timestamp without time zone", true),
        ],
        ["subscriber_360_profiles"] =
        [
            ("id", "bigint", false), ("isdn", "character varying(255)", false), ("recommendation_id", "bigint", true),
            ("subscriber_type", "character varying(10)", false), ("service_type", "character varying(50)", true),
            ("advance_amount", "numeric(12,2)", true), ("revenue_per_advance", "numeric(12,2)", true),
            ("arpu_avg_6m", "numeric(10,2)", true), ("arpu_std_6m", "numeric(10,2)", true), ("arpu_min_6m", "numeric(10,2)", true),
            ("arpu_max_6m", "numeric(10,2)", true), ("arpu_first_month", "numeric(10,2)", true), ("arpu_last_month", "numeric(10,2)", true),
            ("arpu_growth_rate", "numeric(10,2)", true), ("arpu_trend", "character varying(20)", true),
            ("revenue_call_pct", "numeric(5,2)", true), ("revenue_sms_pct", "numeric(5,2)", true), ("revenue_data_pct", "numeric(5,2)", true),
            ("user_type", "character varying(50)", true), ("topup_frequency", "numeric(5,2)", true),
            ("topup_avg_amount", "numeric(10,2)", true), ("topup_min_amount", "numeric(10,2)", true),
            ("topup_max_amount", "numeric(10,2)", true), ("topup_advance_ratio", "numeric(10,4)", true),
            ("topup_frequency_class", "character varying(20)", true), ("bad_debt_risk", "character varying(20)", true),
            ("risk_score", "numeric(5,2)", true), ("risk_factors", "jsonb", true), ("customer_value_score", "numeric(5,2)", true),
            ("advance_readiness_score", "numeric(5,2)", true), ("revenue_potential", "numeric(12,2)", true),
            ("cluster_group", "integer", true), ("cluster_label", "character varying(100)", true),
            ("classification_reason", "text", true), ("strengths", "jsonb", true), ("recommendations_text", "jsonb", true),
            ("profile_date", "date", false), ("created_at", "timestamp without time zone", true),
            ("updated_at", "timestamp without time zone", true),
        ],
        ["subscriber_monthly_arpu"] =
        [
            ("id", "bigint", false), ("isdn", "character varying(255)", false), ("data_month", "character varying(6)", false),
            ("arpu_call", "numeric(10,2)", true), ("arpu_sms", "numeric(10,2)", true), ("arpu_data", "numeric(10,2)", true),
            ("arpu_total", "numeric(10,2)", true), ("created_at", "timestamp without time zone", true),
        ],
        ["recommendation_stats"] =
        [
            ("id", "integer", false), ("dimension_type", "character varying(50)", false), ("dimension_value", "character varying(100)", false),
            ("total_count", "integer", true), ("total_advance_amount", "numeric(15,2)", true),
            ("total_revenue_potential", "numeric(15,2)", true), ("avg_customer_value_score", "numeric(5,2)", true),
            ("avg_advance_readiness_score", "numeric(5,2)", true), ("stats_date", "date", false),
            ("created_at", "timestamp without time zone", true),
        ],
    };

    [Theory]
    [InlineData("recommendations")]
    [InlineData("subscriber_360_profiles")]
    [InlineData("subscriber_monthly_arpu")]
    [InlineData("recommendation_stats")]
    public async Task Each_design_table_has_exactly_the_documents_columns_in_order(string table)
    {
        var actual = await RowsAsync("""
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
              FROM pg_attribute a
             WHERE a.attrelid = @t::regclass AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum
            """, table, r => (r.GetString(0), r.GetString(1), r.GetBoolean(2)));
        Assert.Equal(DesignColumns[table], actual);
    }

    [Fact]
    public async Task The_design_indexes_exist_with_their_names_and_columns()
    {
        var actual = (await RowsAsync("""
            SELECT indexname || ' ' || regexp_replace(indexdef, '^.* USING btree ', '')
              FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(@t)
            """, new[] { "recommendations", "subscriber_360_profiles", "subscriber_monthly_arpu", "recommendation_stats" },
            r => r.GetString(0))).ToHashSet();

        string[] expected =
        [
            "idx_recommendations_isdn (isdn)", "idx_recommendations_service (service_type)",
            "idx_recommendations_risk (bad_debt_risk)", "idx_recommendations_cluster (cluster_group)",
            "idx_recommendations_priority (priority_score DESC)", "idx_recommendations_subscriber_type (subscriber_type)",
            "idx_recommendations_date (recommendation_date)", "idx_service_risk (service_type, bad_debt_risk)",
            "idx_service_priority (service_type, priority_score DESC)",
            "idx_360_isdn (isdn)", "idx_360_recommendation (recommendation_id)", "idx_360_cluster (cluster_group)",
            "idx_monthly_isdn (isdn)", "idx_monthly_month (data_month)", "idx_monthly_isdn_month (isdn, data_month)",
            "idx_stats_dimension (dimension_type, dimension_value)", "idx_stats_date (stats_date)",
            // PRIMARY KEY and UNIQUE constraints, with PostgreSQL's default names.
            "recommendations_pkey (id)", "recommendations_isdn_key (isdn)",
            "subscriber_360_profiles_pkey (id)", "subscriber_360_profiles_isdn_key (isdn)",
            "subscriber_monthly_arpu_pkey (id)", "subscriber_monthly_arpu_isdn_data_month_key (isdn, data_month)",
            "recommendation_stats_pkey (id)", "recommendation_stats_dimension_type_dimension_value_stats_d_key (dimension_type, dimension_value, stats_date)",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_check_constraints_and_the_foreign_key_are_the_documents()
    {
        var actual = await RowsAsync("""
            SELECT conrelid::regclass::text || ' ' || conname || ' ' || contype::text || ' ' || pg_get_constraintdef(oid)
              FROM pg_constraint
             WHERE contype IN ('c', 'f') AND conrelid::regclass::text = ANY(@t)
             ORDER BY 1
            """, new[] { "recommendations", "subscriber_360_profiles", "subscriber_monthly_arpu", "recommendation_stats" },
            r => r.GetString(0));
        Assert.Equal(
        [
            "recommendations chk_risk c CHECK (((bad_debt_risk)::text = ANY ((ARRAY['LOW'::character varying, 'MEDIUM'::character varying, 'HIGH'::character varying])::text[])))",
            "recommendations chk_service_type c CHECK (((service_type)::text = ANY ((ARRAY['EasyCredit'::character varying, 'MBFG'::character varying, 'ungsanluong'::character varying])::text[])))",
            "recommendations chk_subscriber_type c CHECK (((subscriber_type)::text = ANY ((ARRAY['PRE'::character varying, 'POS'::character varying])::text[])))",
            "subscriber_360_profiles subscriber_360_profiles_recommendation_id_fkey f FOREIGN KEY (recommendation_id) REFERENCES recommendations(id)",
        ], actual);
    }

    [Theory]
    [InlineData("subscriber_type", "'XYZ'", "chk_subscriber_type")]
    [InlineData("service_type", "'Unknown'", "chk_service_type")]
    [InlineData("bad_debt_risk", "'EXTREME'", "chk_risk")]
    public async Task A_value_outside_a_check_set_is_refused_by_its_named_constraint(string column, string value, string constraint)
    {
        var values = new Dictionary<string, string>
        {
            ["subscriber_type"] = "'PRE'", ["service_type"] = "'MBFG'", ["bad_debt_risk"] = "'LOW'",
        };
        values[column] = value;
        await using var cmd = _db.DataSource.CreateCommand($"""
            INSERT INTO recommendations (isdn, subscriber_type, service_type, advance_amount, revenue_per_advance,
                                         bad_debt_risk, recommendation_date)
            VALUES ('x', {values["subscriber_type"]}, {values["service_type"]}, 10000, 3000, {values["bad_debt_risk"]}, '2025-10-22')
            """);
        var e = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
        Assert.Equal(constraint, e.ConstraintName);
    }

    [Fact]
    public async Task Migrating_again_applies_nothing()
    {
        Assert.Empty(await Migrator.MigrateAsync(_db.DataSource));
    }

    async Task<List<T>> RowsAsync<T>(string sql, object parameter, Func<NpgsqlDataReader, T> read)
    {
        await using var cmd = _db.DataSource.CreateCommand(sql);
        cmd.Parameters.AddWithValue("t", parameter);
        await using var reader = await cmd.ExecuteReaderAsync();
        var list = new List<T>();
        while (await reader.ReadAsync())
            list.Add(read(reader));
        return list;
    }
}
