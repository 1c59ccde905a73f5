using Npgsql;
using Ut360.Data.Loading;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Load;

public sealed class LoadTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "ut360-load-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    string Dir(string name) => Path.Combine(_root, name);

    static readonly string[] Tables = ["recommendations", "subscriber_360_profiles", "subscriber_monthly_arpu", "recommendation_stats"];

    /// md5 of every row of every design table in id order, timestamps included.
    static async Task<Dictionary<string, string>> Checksums(TestDatabase db, bool withTimestamps = true)
    {
        var sums = new Dictionary<string, string>();
        foreach (var table in Tables)
        {
            var row = withTimestamps ? "t::text" : "(to_jsonb(t) - 'created_at' - 'updated_at')::text";
            await using var cmd = db.DataSource.CreateCommand($"SELECT md5(coalesce(string_agg({row}, '|' ORDER BY id), '')) || ':' || count(*) FROM {table} t");
            sums[table] = (string)(await cmd.ExecuteScalarAsync())!;
        }
        return sums;
    }

    static async Task<T> Scalar<T>(TestDatabase db, string sql)
    {
        await using var cmd = db.DataSource.CreateCommand(sql);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    Task<LoadResult> Load(TestDatabase db, string dir, LoadMode mode = LoadMode.Snapshot, double maxRejectRate = 0.01,
        double maxDeletePercent = 5) =>
        new DataLoader(db.DataSource).LoadAsync(new LoadOptions
        {
            Directory = dir, Mode = mode, MaxRejectRate = maxRejectRate, MaxDeletePercent = maxDeletePercent,
            RejectsFile = Path.Combine(dir, "rejects.csv"),
        });

    [Fact]
    public async Task A_load_gives_exact_counts_in_all_four_tables()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = UpstreamFixture.Create(60, months: 3).WriteTo(Dir("v1"), "parquet");

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(60L, await Scalar<long>(db, "SELECT count(*) FROM recommendations"));
        Assert.Equal(60L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_360_profiles"));
        Assert.Equal(180L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_monthly_arpu"));
        // 3 services + 2 risks + 4 clusters + 1 date, all for the data's recommendation_date.
        Assert.Equal(10L, await Scalar<long>(db, "SELECT count(*) FROM recommendation_stats WHERE stats_date = '2025-10-22'"));
        Assert.Equal(20, await Scalar<int>(db, "SELECT total_count FROM recommendation_stats WHERE dimension_type = 'service' AND dimension_value = 'MBFG'"));
        Assert.Equal(60, await Scalar<int>(db, "SELECT total_count FROM recommendation_stats WHERE dimension_type = 'date'"));
        Assert.Equal(await Scalar<decimal>(db, "SELECT sum(advance_amount) FROM recommendations"),
            await Scalar<decimal>(db, "SELECT total_advance_amount FROM recommendation_stats WHERE dimension_type = 'date'"));
        // Every profile points at its subscriber's recommendation and carries its columns.
        Assert.Equal(0L, await Scalar<long>(db, """
            SELECT count(*) FROM subscriber_360_profiles p LEFT JOIN recommendations r ON r.id = p.recommendation_id
            WHERE r.isdn IS DISTINCT FROM p.isdn OR r.service_type IS DISTINCT FROM p.service_type
               OR r.advance_amount IS DISTINCT FROM p.advance_amount OR r.bad_debt_risk IS DISTINCT FROM p.bad_debt_risk
               OR r.customer_value_score IS DISTINCT FROM p.customer_value_score OR r.cluster_group IS DISTINCT FROM p.cluster_group
            """));
        Assert.Equal("[\"Doanh thu giảm\", \"Nạp tiền không đều\"]", await Scalar<string>(db, "SELECT risk_factors::text FROM subscriber_360_profiles ORDER BY id LIMIT 1"));
        Assert.Equal(300, result.Inserted);
        Assert.Equal(60, result.ChangedIsdns.Count);

        await using var cmd = db.DataSource.CreateCommand("""
            SELECT outcome, rows_recommendations, rows_profiles, rows_monthly_arpu, rows_rejected, rows_inserted,
                   jsonb_array_length(source_files), source_files->0->>'sha256', finished_at >= started_at
            FROM data_loads WHERE id = @id
            """);
        cmd.Parameters.AddWithValue("id", result.LoadId);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("succeeded", reader.GetString(0));
        Assert.Equal([60, 60, 180, 0, 300], Enumerable.Range(1, 5).Select(reader.GetInt32));
        Assert.Equal(3, reader.GetInt32(6));
        Assert.Equal(64, reader.GetString(7).Length);
        Assert.True(reader.GetBoolean(8));
    }

    [Fact]
    public async Task A_fresh_load_stores_profiles_and_months_in_isdn_order_whatever_the_order_of_the_files()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(2000, months: 3);
        var random = new Random(7);
        foreach (var rows in new[] { fixture.Recommendations, fixture.Profiles, fixture.Monthly })
            random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(rows));
        var dir = fixture.WriteTo(Dir("v1"), "parquet");

        Assert.Equal(LoadOutcome.Succeeded, (await Load(db, dir)).Outcome);

        // The sync reads both tables by ISDN range, so storage (ctid) order must follow ISDN
        // order. PostgreSQL places an INSERT … ORDER BY's rows near that order, not exactly (a row
        // can land in the space left on an earlier page): at the design's 214,504 subscribers
        // 0.1 % of the profiles follow a greater ISDN; in file order here it would be about half.
        var profilesOut = await Scalar<long>(db,
            "SELECT count(*) FROM (SELECT isdn, lag(isdn) OVER (ORDER BY ctid) AS before FROM subscriber_360_profiles) t WHERE before > isdn");
        var monthsOut = await Scalar<long>(db, """
            SELECT count(*) FROM (SELECT isdn, data_month, lag(isdn) OVER w AS isdn_before, lag(data_month) OVER w AS month_before
                                    FROM subscriber_monthly_arpu WINDOW w AS (ORDER BY ctid)) t
             WHERE (isdn_before, month_before) > (isdn, data_month)
            """);
        Assert.InRange(profilesOut, 0, 2000 / 100);
        Assert.InRange(monthsOut, 0, 6000 / 100);
        // Ids still follow the rows of the files: the file's first profile has the smallest id.
        Assert.Equal((string)fixture.Profiles[0]["isdn"]!,
            await Scalar<string>(db, "SELECT isdn FROM subscriber_360_profiles ORDER BY id LIMIT 1"));
    }

    [Fact]
    public async Task Loading_the_same_files_again_changes_nothing_not_even_timestamps()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = UpstreamFixture.Create(40).WriteTo(Dir("v1"), "parquet");
        await Load(db, dir);
        var before = await Checksums(db);

        var again = await Load(db, dir);

        Assert.Equal(LoadOutcome.Succeeded, again.Outcome);
        Assert.Equal((0, 0, 0), (again.Inserted, again.Updated, again.Deleted));
        Assert.Empty(again.ChangedIsdns);
        Assert.Equal(before, await Checksums(db));
    }

    [Fact]
    public async Task Csv_and_parquet_of_the_same_data_load_the_same_rows()
    {
        var fixture = UpstreamFixture.Create(30);
        fixture.Recommendations[1]["arpu_trend"] = null;
        fixture.Profiles[2]["classification_reason"] = "Có dấu phẩy, \"ngoặc kép\"\nvà xuống dòng";
        fixture.Recommendations[3]["arpu_avg_6m"] = 1234.565;
        await using var fromParquet = await TestDatabase.CreateAsync();
        await using var fromCsv = await TestDatabase.CreateAsync();

        await Load(fromParquet, fixture.WriteTo(Dir("pq"), "parquet"));
        await Load(fromCsv, fixture.WriteTo(Dir("csv"), "csv"));

        Assert.Equal(await Checksums(fromParquet, withTimestamps: false), await Checksums(fromCsv, withTimestamps: false));
    }

    /// Content without ids and timestamps, in key order: what must not depend on the load path.
    static async Task<Dictionary<string, string>> Content(TestDatabase db)
    {
        var queries = new Dictionary<string, string>
        {
            ["recommendations"] = "SELECT string_agg((to_jsonb(t) - 'id' - 'created_at' - 'updated_at')::text, '|' ORDER BY isdn) FROM recommendations t",
            ["subscriber_360_profiles"] = "SELECT string_agg((to_jsonb(t) - 'id' - 'recommendation_id' - 'created_at' - 'updated_at')::text, '|' ORDER BY isdn) FROM subscriber_360_profiles t",
            ["subscriber_monthly_arpu"] = "SELECT string_agg((to_jsonb(t) - 'id' - 'created_at')::text, '|' ORDER BY isdn, data_month) FROM subscriber_monthly_arpu t",
            ["recommendation_stats"] = "SELECT string_agg((to_jsonb(t) - 'id' - 'created_at')::text, '|' ORDER BY dimension_type, dimension_value, stats_date) FROM recommendation_stats t",
            ["links"] = "SELECT count(*)::text FROM subscriber_360_profiles p JOIN recommendations r ON r.id = p.recommendation_id AND r.isdn = p.isdn",
        };
        var result = new Dictionary<string, string>();
        foreach (var (name, sql) in queries)
            result[name] = await Scalar<string>(db, sql);
        return result;
    }

    [Fact]
    public async Task The_fresh_path_and_the_merge_path_give_the_same_data()
    {
        var target = UpstreamFixture.Create(30);
        target.Recommendations[4]["arpu_trend"] = null;
        await using var fresh = await TestDatabase.CreateAsync();
        await using var merged = await TestDatabase.CreateAsync();
        // The merged database first holds other data: a changed subset, and a subscriber that departs.
        var earlier = UpstreamFixture.Create(41);
        earlier.Recommendations.RemoveRange(10, 30);
        earlier.Profiles.RemoveRange(10, 30);
        earlier.Monthly.RemoveRange(30, 90);
        foreach (var r in earlier.Recommendations)
            r["service_type"] = "MBFG";
        earlier.Monthly[0]["arpu_total"] = 5.0;
        await Load(merged, earlier.WriteTo(Dir("earlier"), "parquet"));

        var dir = target.WriteTo(Dir("target"), "parquet");
        await Load(fresh, dir);
        // One of the 11 earlier subscribers departs: over the mass-change guard's default.
        var result = await Load(merged, dir, maxDeletePercent: 100);

        Assert.True(result.Updated > 0 && result.Deleted > 0 && result.Inserted > 0);
        Assert.Equal(await Content(fresh), await Content(merged));
    }

    [Fact]
    public async Task A_fresh_load_leaves_the_indexes_and_constraints_as_the_migrations_made_them()
    {
        await using var db = await TestDatabase.CreateAsync();
        const string catalog = """
            SELECT (SELECT string_agg(indexname || ' ' || indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public')
                || ' | ' || (SELECT string_agg(conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid), '; ' ORDER BY conname)
                             FROM pg_constraint WHERE connamespace = 'public'::regnamespace)
            """;
        var before = await Scalar<string>(db, catalog);

        await Load(db, UpstreamFixture.Create(10).WriteTo(Dir("v1"), "parquet"));

        Assert.Equal(before, await Scalar<string>(db, catalog));
        Assert.Contains("idx_service_priority", before, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_snapshot_removes_departed_subscribers_and_leaves_the_others_untouched()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(20);
        await Load(db, fixture.WriteTo(Dir("v1"), "parquet"));
        var departed = UpstreamFixture.Isdn(5);
        var stayed = UpstreamFixture.Isdn(6);
        var stayedBefore = await Scalar<string>(db, $"SELECT r::text || p::text FROM recommendations r JOIN subscriber_360_profiles p USING (isdn) WHERE isdn = '{stayed}'");

        fixture.Recommendations.RemoveAt(5);
        fixture.Profiles.RemoveAt(5);
        fixture.Monthly.RemoveAll(m => (string)m["isdn"]! == departed);
        var result = await Load(db, fixture.WriteTo(Dir("v2"), "parquet"));

        Assert.Equal((0, 0, 1 + 1 + 3), (result.Inserted, result.Updated, result.Deleted));
        Assert.Equal([departed], result.DeletedIsdns);
        foreach (var table in new[] { "recommendations", "subscriber_360_profiles", "subscriber_monthly_arpu" })
            Assert.Equal(0L, await Scalar<long>(db, $"SELECT count(*) FROM {table} WHERE isdn = '{departed}'"));
        Assert.Equal(19L, await Scalar<long>(db, "SELECT count(*) FROM recommendations"));
        Assert.Equal(stayedBefore, await Scalar<string>(db, $"SELECT r::text || p::text FROM recommendations r JOIN subscriber_360_profiles p USING (isdn) WHERE isdn = '{stayed}'"));
        Assert.Equal(19, await Scalar<int>(db, "SELECT total_count FROM recommendation_stats WHERE dimension_type = 'date'"));
    }

    [Fact]
    public async Task A_changed_row_gets_the_loads_time_and_keeps_its_id_and_created_at()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        await Load(db, fixture.WriteTo(Dir("v1"), "parquet"));
        var isdn = UpstreamFixture.Isdn(4);
        var (id, created) = await IdAndCreated(db, isdn);

        fixture.Recommendations[4]["advance_amount"] = 50000.0;
        fixture.Monthly[4 * 3 + 1]["arpu_total"] = 99.0;
        var result = await Load(db, fixture.WriteTo(Dir("v2"), "parquet"));

        Assert.Equal((0, 3, 0), (result.Inserted, result.Updated, result.Deleted)); // rec, profile copy, one month
        Assert.Equal([isdn], result.ChangedIsdns);
        Assert.Equal((id, created), await IdAndCreated(db, isdn));
        var changedSince = $"(SELECT started_at FROM data_loads WHERE id = {result.LoadId})";
        Assert.Equal(1L, await Scalar<long>(db, $"SELECT count(*) FROM recommendations WHERE updated_at >= {changedSince}"));
        Assert.Equal(1L, await Scalar<long>(db, $"SELECT count(*) FROM subscriber_360_profiles WHERE updated_at >= {changedSince}"));
        Assert.Equal(50000m, await Scalar<decimal>(db, $"SELECT advance_amount FROM subscriber_360_profiles WHERE isdn = '{isdn}'"));
    }

    static async Task<(long, DateTime)> IdAndCreated(TestDatabase db, string isdn)
    {
        await using var cmd = db.DataSource.CreateCommand($"SELECT id, created_at FROM recommendations WHERE isdn = '{isdn}'");
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetDateTime(1));
    }

    [Fact]
    public async Task Upsert_mode_inserts_and_updates_and_deletes_nothing()
    {
        await using var db = await TestDatabase.CreateAsync();
        await Load(db, UpstreamFixture.Create(10).WriteTo(Dir("v1"), "parquet"));

        // A partial file: subscriber 2 changed (service, and its 202504 ARPU), and a new
        // subscriber 10; the other nine are absent.
        var full = UpstreamFixture.Create(11);
        var partial = new UpstreamFixture();
        foreach (var i in new[] { 2, 10 })
        {
            partial.Recommendations.Add(full.Recommendations[i]);
            partial.Profiles.Add(full.Profiles[i]);
        }
        partial.Recommendations[0]["service_type"] = "MBFG";
        partial.Monthly.AddRange(full.Monthly.Skip(2 * 3).Take(3));
        partial.Monthly[1]["arpu_total"] = 1.0;
        partial.Monthly.AddRange(full.Monthly.Skip(10 * 3));

        // 2 of the 9 monthly rows go: over the mass-change guard's default.
        var result = await Load(db, partial.WriteTo(Dir("part"), "parquet"), LoadMode.Upsert, maxDeletePercent: 100);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(0, result.Deleted);
        Assert.Equal((1, 1, 3), (result.Recommendations.Inserted, result.Profiles.Inserted, result.Monthly.Inserted));
        Assert.Equal((1, 1, 1), (result.Recommendations.Updated, result.Profiles.Updated, result.Monthly.Updated));
        Assert.Equal(11L, await Scalar<long>(db, "SELECT count(*) FROM recommendations"));
        Assert.Equal(33L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_monthly_arpu"));
        var two = UpstreamFixture.Isdn(2);
        Assert.Equal("MBFG", await Scalar<string>(db, $"SELECT service_type FROM subscriber_360_profiles WHERE isdn = '{two}'"));
        Assert.Equal(1m, await Scalar<decimal>(db, $"SELECT arpu_total FROM subscriber_monthly_arpu WHERE isdn = '{two}' AND data_month = '202504'"));
        Assert.Equal(11, await Scalar<int>(db, "SELECT total_count FROM recommendation_stats WHERE dimension_type = 'date'"));
    }

    [Fact]
    public async Task Upsert_replaces_a_given_subscribers_rows_for_the_months_given()
    {
        await using var db = await TestDatabase.CreateAsync();
        await Load(db, UpstreamFixture.Create(3).WriteTo(Dir("v1"), "parquet"));
        var full = UpstreamFixture.Create(3);
        var partial = new UpstreamFixture();
        partial.Recommendations.Add(full.Recommendations[0]);
        partial.Profiles.Add(full.Profiles[0]);
        partial.Monthly.Add(full.Monthly[0]); // 202503 only
        // Subscriber 1 gives 202504 only. The given months are 202503 and 202504, so subscriber 0
        // loses its 202504 row and subscriber 1 its 202503 row; 202505 is not given and stays.
        partial.Recommendations.Add(full.Recommendations[1]);
        partial.Profiles.Add(full.Profiles[1]);
        partial.Monthly.Add(full.Monthly[4]);

        // 2 of the 9 monthly rows go: over the mass-change guard's default.
        var result = await Load(db, partial.WriteTo(Dir("part"), "parquet"), LoadMode.Upsert, maxDeletePercent: 100);

        Assert.Equal((0, 0, 2), (result.Monthly.Inserted, result.Monthly.Updated, result.Monthly.Deleted));
        Assert.Equal(0L, await Scalar<long>(db, $"SELECT count(*) FROM subscriber_monthly_arpu WHERE isdn = '{UpstreamFixture.Isdn(0)}' AND data_month = '202504'"));
        Assert.Equal(0L, await Scalar<long>(db, $"SELECT count(*) FROM subscriber_monthly_arpu WHERE isdn = '{UpstreamFixture.Isdn(1)}' AND data_month = '202503'"));
        Assert.Equal(2L, await Scalar<long>(db, $"SELECT count(*) FROM subscriber_monthly_arpu WHERE data_month = '202505' AND isdn IN ('{UpstreamFixture.Isdn(0)}', '{UpstreamFixture.Isdn(1)}')"));
        Assert.Equal(7L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_monthly_arpu"));
    }

    public static TheoryData<string, string, int, string, object?, string> BadInputs => new()
    {
        // format, file, 1-based row, column, value ("$isdn:N" = subscriber N's ISDN, "$long:N" = N characters), reason
        { "parquet", "recommendations", 3, "service_type", "Foo", "not one of" },
        { "parquet", "recommendations", 3, "subscriber_type", "XX", "not one of" },
        { "parquet", "recommendations", 3, "bad_debt_risk", "HUGE", "not one of" },
        { "parquet", "recommendations", 2, "recommendation_date", null, "required value is missing" },
        { "parquet", "recommendations", 2, "bad_debt_risk", null, "required value is missing" },
        { "parquet", "profiles", 2, "profile_date", null, "required value is missing" },
        { "csv", "recommendations", 4, "advance_amount", "abc", "not a number" },
        { "parquet", "recommendations", 4, "advance_amount", -5.0, "negative" },
        { "parquet", "monthly_arpu", 4, "arpu_total", -0.5, "negative" },
        { "parquet", "recommendations", 4, "arpu_avg_6m", double.NaN, "not a finite number" },
        { "csv", "recommendations", 4, "arpu_avg_6m", "Infinity", "not a finite number" },
        { "parquet", "monthly_arpu", 5, "data_month", "202513", "not a month" },
        { "csv", "monthly_arpu", 5, "data_month", "2025-3", "not a month" },
        { "parquet", "monthly_arpu", 5, "data_month", "202503", "duplicate month for this ISDN (also row 4)" },
        { "parquet", "monthly_arpu", 4, "data_month", "202504", "duplicate month for this ISDN (also row 5)" },
        { "parquet", "recommendations", 6, "customer_value_score", 150.0, "outside 0–100" },
        { "parquet", "profiles", 6, "risk_score", 100.5, "outside 0–100" },
        { "parquet", "recommendations", 5, "isdn", "$isdn:3", "duplicate ISDN" },
        { "parquet", "profiles", 5, "isdn", "$isdn:99", "unknown ISDN" },
        { "parquet", "monthly_arpu", 7, "isdn", "$isdn:99", "unknown ISDN" },
        { "parquet", "profiles", 3, "cluster_label", "$long:101", "longer than 100 characters" },
        { "parquet", "recommendations", 3, "arpu_trend", "$long:21", "not one of" },
        { "parquet", "profiles", 3, "strengths", "[1, 2]", "not a JSON array of strings" },
        { "csv", "profiles", 3, "risk_factors", "{\"a\": \"b\"}", "not a JSON array of strings" },
        { "csv", "profiles", 3, "recommendations_text", "[\"unterminated", "not a JSON array of strings" },
        { "parquet", "recommendations", 3, "advance_amount", 1e11, "too large for DECIMAL(12,2)" },
        { "csv", "recommendations", 3, "recommendation_date", "22/10/2025", "not a date" },
        { "csv", "recommendations", 3, "cluster_group", "1.5", "not an integer" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Each_bad_row_is_reported_by_file_row_and_column_and_a_refused_load_changes_nothing(
        string format, string file, int row, string column, object? value, string reason)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(20);
        await Load(db, fixture.WriteTo(Dir("v1"), format));
        var before = await Checksums(db);

        // v2 changes every subscriber, so a load that went through would show.
        foreach (var r in fixture.Recommendations)
            r["advance_amount"] = 99000.0;
        var rows = file switch { "recommendations" => fixture.Recommendations, "profiles" => fixture.Profiles, _ => fixture.Monthly };
        rows[row - 1][column] = value switch
        {
            string s when s.StartsWith("$isdn:", StringComparison.Ordinal) => UpstreamFixture.Isdn(int.Parse(s[6..], System.Globalization.CultureInfo.InvariantCulture) - 1),
            string s when s.StartsWith("$long:", StringComparison.Ordinal) => new string('x', int.Parse(s[6..], System.Globalization.CultureInfo.InvariantCulture)),
            _ => value,
        };
        var dir = fixture.WriteTo(Dir("v2"), format);

        // One bad row of 100 (20 subscribers, 20 + 20 + 60 rows) is over a 0.5% threshold.
        var result = await Load(db, dir, maxRejectRate: 0.005);

        Assert.Equal(LoadOutcome.Refused, result.Outcome);
        Assert.Equal(before, await Checksums(db));
        var rejects = await File.ReadAllLinesAsync(Path.Combine(dir, "rejects.csv"));
        var fileName = $"{file}.{format}";
        Assert.Contains(rejects, l => l.StartsWith($"{fileName},{row},{column},", StringComparison.Ordinal) && l.Contains(reason, StringComparison.Ordinal));
        Assert.Equal("refused", await Scalar<string>(db, $"SELECT outcome FROM data_loads WHERE id = {result.LoadId}"));
        Assert.True(result.RejectedRows > 0);
    }

    [Fact]
    public async Task Under_the_threshold_a_rejected_subscriber_keeps_its_previous_data_and_the_rest_loads()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(30);
        await Load(db, fixture.WriteTo(Dir("v1"), "parquet"));
        var bad = UpstreamFixture.Isdn(7);
        var badBefore = await Scalar<string>(db, $"SELECT string_agg(t::text, '|') FROM (SELECT r::text FROM recommendations r WHERE isdn = '{bad}' UNION ALL SELECT p::text FROM subscriber_360_profiles p WHERE isdn = '{bad}' UNION ALL SELECT m::text FROM (SELECT * FROM subscriber_monthly_arpu WHERE isdn = '{bad}' ORDER BY id) m) t");

        foreach (var r in fixture.Recommendations)
            r["advance_amount"] = 99000.0;
        fixture.Monthly[7 * 3 + 2]["data_month"] = "2025AA"; // one bad monthly row of subscriber 7
        var result = await Load(db, fixture.WriteTo(Dir("v2"), "parquet"), maxRejectRate: 0.05);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(5, result.RejectedRows); // its recommendation, profile and three monthly rows
        Assert.Equal(1, result.RejectedSubscribers);
        Assert.Equal(badBefore, await Scalar<string>(db, $"SELECT string_agg(t::text, '|') FROM (SELECT r::text FROM recommendations r WHERE isdn = '{bad}' UNION ALL SELECT p::text FROM subscriber_360_profiles p WHERE isdn = '{bad}' UNION ALL SELECT m::text FROM (SELECT * FROM subscriber_monthly_arpu WHERE isdn = '{bad}' ORDER BY id) m) t"));
        Assert.Equal(29L, await Scalar<long>(db, "SELECT count(*) FROM recommendations WHERE advance_amount = 99000"));
        Assert.Equal(30L, await Scalar<long>(db, "SELECT count(*) FROM recommendations"));
        var rejects = await File.ReadAllLinesAsync(result.RejectsFile!);
        Assert.Contains("monthly_arpu.parquet,24,data_month,2025AA,not a month (YYYYMM)", rejects);
        Assert.Contains(rejects, l => l.StartsWith("recommendations.parquet,8,isdn,", StringComparison.Ordinal) && l.EndsWith("subscriber refused because of monthly_arpu.parquet row 24", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("parquet")]
    [InlineData("csv")]
    public async Task A_missing_column_stops_the_load_naming_the_file_and_the_column(string format)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(5);
        await Load(db, fixture.WriteTo(Dir("v1"), format));
        var before = await Checksums(db);
        fixture.Omit["monthly_arpu"] = ["arpu_total"];

        var e = await Assert.ThrowsAsync<LoadCheckException>(() => Load(db, fixture.WriteTo(Dir("v2"), format)));

        Assert.Contains($"monthly_arpu.{format}", e.Message, StringComparison.Ordinal);
        Assert.Contains("'arpu_total'", e.Message, StringComparison.Ordinal);
        Assert.Contains("missing", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, await Checksums(db));
        Assert.Equal("failed", await Scalar<string>(db, "SELECT outcome FROM data_loads ORDER BY id DESC LIMIT 1"));
    }

    [Fact]
    public async Task A_column_of_the_wrong_type_stops_the_load_naming_the_file_and_the_column()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(5);
        await Load(db, fixture.WriteTo(Dir("v1"), "parquet"));
        var before = await Checksums(db);
        fixture.ParquetTypeOverride[("recommendations", "advance_amount")] = typeof(string);
        foreach (var r in fixture.Recommendations)
            r["advance_amount"] = "25000";

        var e = await Assert.ThrowsAsync<LoadCheckException>(() => Load(db, fixture.WriteTo(Dir("v2"), "parquet")));

        Assert.Equal("recommendations.parquet: column 'advance_amount' has type BYTE_ARRAY STRING, expected DOUBLE (or FLOAT, INT32, INT64, DECIMAL)", e.Message);
        Assert.Equal(before, await Checksums(db));
    }

    [Fact]
    public async Task Pandas_style_types_are_accepted()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(5);
        fixture.ParquetTypeOverride[("recommendations", "cluster_group")] = typeof(long);
        fixture.ParquetTypeOverride[("monthly_arpu", "arpu_total")] = typeof(long);
        foreach (var m in fixture.Monthly)
            m["arpu_total"] = 2700.0;

        var result = await Load(db, fixture.WriteTo(Dir("v1"), "parquet"));

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(2700m * 15, await Scalar<decimal>(db, "SELECT sum(arpu_total) FROM subscriber_monthly_arpu"));
        Assert.Equal(6L, await Scalar<long>(db, "SELECT sum(cluster_group) FROM recommendations"));
    }

    [Fact]
    public async Task A_missing_file_stops_the_load_naming_the_file()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = UpstreamFixture.Create(5).WriteTo(Dir("v1"), "parquet");
        File.Delete(Path.Combine(dir, "profiles.parquet"));

        var e = await Assert.ThrowsAsync<LoadCheckException>(() => Load(db, dir));

        Assert.StartsWith("profiles.parquet: missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_load_leaves_the_previous_data_untouched()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(200);
        await Load(db, fixture.WriteTo(Dir("v1"), "parquet"));
        var before = await Checksums(db);
        foreach (var r in fixture.Recommendations)
            r["advance_amount"] = 99000.0;
        var dir = fixture.WriteTo(Dir("v2"), "parquet");

        // Cancel at the start of the merge transaction's second step.
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress(p => { if (p.Stage == "merge" && p.Done == 1) cts.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new DataLoader(db.DataSource).LoadAsync(
            new LoadOptions { Directory = dir, RejectsFile = Path.Combine(dir, "rejects.csv") }, progress, cts.Token));

        Assert.Equal(before, await Checksums(db));
        Assert.Equal("failed", await Scalar<string>(db, "SELECT outcome FROM data_loads ORDER BY id DESC LIMIT 1"));
    }

    sealed class SyncProgress(Action<LoadProgress> action) : IProgress<LoadProgress>
    {
        public void Report(LoadProgress value) => action(value);
    }
}
