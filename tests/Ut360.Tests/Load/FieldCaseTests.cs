using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Encoding = System.Text.Encoding;
using ParquetSharp;
using Ut360.Data.Loading;
using Ut360.Data.Upstream;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Load;

/// The field cases (Load/FieldCases: data sets real pipelines wrote) and their siblings: the
/// same kind of fault in other columns, from other writers, in Parquet and in CSV. A loaded
/// value equals what the file means; anything else is a refusal that names the file.
public sealed class FieldCaseTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "ut360-field-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    string Dir(string name) => Path.Combine(_root, name);

    /// A writable copy of a field case (the loader writes its rejects file next to it).
    string FieldCase(string name)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Load", "FieldCases", name);
        var target = Dir(name);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        return target;
    }

    static Task<LoadResult> Load(TestDatabase db, string dir, double maxRejectRate = 0.01, double maxDeletePercent = 5,
        string? encoding = null, string timeZone = LoadOptions.DefaultTimeZone, char? delimiter = null) =>
        new DataLoader(db.DataSource).LoadAsync(new LoadOptions
        {
            Directory = dir, MaxRejectRate = maxRejectRate, MaxDeletePercent = maxDeletePercent,
            RejectsFile = Path.Combine(dir, "rejects.csv"), CsvEncoding = encoding, TimeZone = timeZone, CsvDelimiter = delimiter,
        });

    static async Task<T> Scalar<T>(TestDatabase db, string sql)
    {
        await using var cmd = db.DataSource.CreateCommand(sql);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    static Task<string> Content(TestDatabase db) => Scalar<string>(db, """
        SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
            SELECT (to_jsonb(r) - 'id' - 'created_at' - 'updated_at')::text AS t FROM recommendations r
            UNION ALL SELECT (to_jsonb(p) - 'id' - 'recommendation_id' - 'created_at' - 'updated_at')::text FROM subscriber_360_profiles p
            UNION ALL SELECT (to_jsonb(m) - 'id' - 'created_at')::text FROM subscriber_monthly_arpu m) x
        """);

    static async Task<string[]> Rejects(string dir) => await File.ReadAllLinesAsync(Path.Combine(dir, "rejects.csv"));

    // ---- 1. dates from time-zone-aware timestamps ----

    [Fact]
    public async Task DuckDB_timestamptz_local_midnights_load_as_their_date_in_Ho_Chi_Minh()
    {
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, FieldCase("tz_local_midnight"));

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(new DateOnly(2025, 10, 22), await Scalar<DateOnly>(db, "SELECT DISTINCT recommendation_date FROM recommendations"));
        Assert.Equal(20, await Scalar<int>(db, "SELECT total_count FROM recommendation_stats WHERE dimension_type = 'date' AND stats_date = '2025-10-22'"));
        Assert.Equal(0L, await Scalar<long>(db, "SELECT count(*) FROM recommendation_stats WHERE stats_date <> '2025-10-22'"));
    }

    [Fact]
    public async Task In_another_business_time_zone_the_same_instants_are_not_midnights_and_are_rejected()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = FieldCase("tz_local_midnight");

        var result = await Load(db, dir, timeZone: "UTC");

        Assert.Equal(LoadOutcome.Refused, result.Outcome);
        Assert.Contains(await Rejects(dir), l => l.StartsWith("recommendations.parquet,1,recommendation_date,2025-10-21 17:00:00Z,", StringComparison.Ordinal)
            && l.Contains("not a midnight", StringComparison.Ordinal));
        Assert.Equal(0L, await Scalar<long>(db, "SELECT count(*) FROM recommendations"));
    }

    public static TheoryData<string> InstantEncodings => new() { "utc-micros", "utc-millis", "local-millis", "int96" };

    [Theory]
    [MemberData(nameof(InstantEncodings))]
    public async Task Every_timestamp_encoding_of_local_midnight_loads_as_that_date(string encoding)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        var dir = fixture.WriteTo(Dir("v1"), "parquet");
        var writer = new ArrowWriter();
        writer.Overrides["profile_date"] = encoding switch
        {
            "utc-micros" => ArrowWriter.TimestampUtc("profile_date"),
            "utc-millis" => ArrowWriter.TimestampUtc("profile_date", TimeUnit.Millis),
            "local-millis" => ArrowWriter.TimestampLocal("profile_date"),
            _ => new ArrowWriter.Override(new Column<Int96?>("profile_date"), v => v is DateOnly d ? Int96Of(d.ToDateTime(TimeOnly.MinValue).AddHours(-7)) : null),
        };
        writer.Write(Path.Combine(dir, "profiles.parquet"), UpstreamFormat.Profiles, fixture.Profiles);

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(new DateOnly(2025, 10, 22), await Scalar<DateOnly>(db, "SELECT DISTINCT profile_date FROM subscriber_360_profiles"));
    }

    // Spark's INT96: nanoseconds of the day, then the Julian day (2440588 = 1970-01-01).
    static Int96 Int96Of(DateTime utc)
    {
        var nanos = utc.TimeOfDay.Ticks * 100;
        var day = (int)(utc.Date - DateTime.UnixEpoch).TotalDays + 2440588;
        return new Int96((int)(nanos & 0xFFFFFFFF), (int)(nanos >> 32), day);
    }

    [Theory]
    [InlineData("parquet-utc")]
    [InlineData("parquet-local")]
    [InlineData("csv-offset")]
    [InlineData("csv-naive")]
    public async Task A_timestamp_that_is_not_a_midnight_is_rejected_with_its_reason(string how)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        string dir;
        if (how.StartsWith("parquet", StringComparison.Ordinal))
        {
            dir = fixture.WriteTo(Dir("v1"), "parquet");
            var writer = new ArrowWriter();
            var noon = TimeSpan.FromHours(12);
            writer.Overrides["recommendation_date"] = how == "parquet-utc"
                ? ArrowWriter.TimestampUtc("recommendation_date", shift: noon)
                : ArrowWriter.TimestampLocal("recommendation_date", shift: noon);
            writer.Write(Path.Combine(dir, "recommendations.parquet"), UpstreamFormat.Recommendations, fixture.Recommendations);
        }
        else
        {
            fixture.Recommendations[2]["recommendation_date"] = how == "csv-offset" ? "2025-10-22 12:00:00+07:00" : "2025-10-22 12:00:00";
            dir = fixture.WriteTo(Dir("v1"), "csv");
        }

        var result = await Load(db, dir, maxRejectRate: 0.5);

        Assert.Contains(await Rejects(dir), l => l.Contains(",3,recommendation_date,", StringComparison.Ordinal)
            && l.Contains("2025-10-22 12:00:00", StringComparison.Ordinal) && l.Contains("is not a midnight", StringComparison.Ordinal));
        Assert.Equal(0L, await Scalar<long>(db, $"SELECT count(*) FROM recommendations WHERE isdn = '{UpstreamFixture.Isdn(2)}'"));
        Assert.True(result.RejectedRows > 0);
    }

    [Fact]
    public async Task Csv_timestamps_with_an_offset_mean_their_date_in_the_business_time_zone()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(4);
        fixture.Recommendations[0]["recommendation_date"] = "2025-10-22 00:00:00+07:00"; // pandas tz-aware to_csv
        fixture.Recommendations[1]["recommendation_date"] = "2025-10-21T17:00:00Z";
        fixture.Recommendations[2]["recommendation_date"] = "2025-10-22T00:00:00";
        var dir = fixture.WriteTo(Dir("v1"), "csv");

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(new DateOnly(2025, 10, 22), await Scalar<DateOnly>(db, "SELECT DISTINCT recommendation_date FROM recommendations"));
    }

    // ---- 2. CSV row integrity ----

    [Fact]
    public async Task A_csv_cut_inside_its_last_number_is_refused_naming_the_row()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = FieldCase("csv_truncated_row");

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Refused, result.Outcome);
        var rejects = await Rejects(dir);
        Assert.Contains(rejects, l => l.StartsWith("monthly_arpu.csv,140,*,", StringComparison.Ordinal) && l.Contains("has 4 fields, the header has 6 (line 141", StringComparison.Ordinal));
        Assert.Contains(rejects, l => l.StartsWith("monthly_arpu.csv,140,*,", StringComparison.Ordinal) && l.Contains("the file ends inside this record", StringComparison.Ordinal));
        Assert.Equal(0L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_monthly_arpu"));
    }

    [Theory]
    [InlineData("extra", "has 7 fields, the header has 6")]
    [InlineData("missing", "has 5 fields, the header has 6")]
    [InlineData("cut-in-last-field", "the file ends inside this record")]
    [InlineData("open-quote", "a quoted field is not closed")]
    public async Task A_csv_record_that_does_not_match_its_header_is_rejected_and_its_subscriber_kept(string damage, string reason)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(30);
        await Load(db, fixture.WriteTo(Dir("v1"), "csv"));
        var before = await Content(db);
        var dir = fixture.WriteTo(Dir("v2"), "csv");
        var path = Path.Combine(dir, "monthly_arpu.csv");
        var lines = File.ReadAllLines(path).ToList();
        switch (damage)
        {
            case "extra": lines[10] += ",1"; break;
            case "missing": lines[10] = lines[10][..lines[10].LastIndexOf(',')]; break;
        }
        var text = string.Join('\n', lines) + "\n";
        if (damage == "cut-in-last-field")
            text = text[..^3]; // "2727.75\n" becomes "2727.7"
        if (damage == "open-quote")
            text = text[..(text.LastIndexOf(',') + 1)] + "\"" + text[(text.LastIndexOf(',') + 1)..];
        File.WriteAllText(path, text);

        var result = await Load(db, dir, maxRejectRate: 0.1);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Contains(await Rejects(dir), l => l.StartsWith("monthly_arpu.csv,", StringComparison.Ordinal) && l.Contains(reason, StringComparison.Ordinal));
        Assert.Equal(1, result.RejectedSubscribers);
        Assert.Equal(before, await Content(db)); // the same data: the damaged subscriber kept its rows
    }

    [Theory]
    [InlineData(';')]
    [InlineData('\t')]
    public async Task A_csv_with_another_separator_is_refused_with_a_hint_and_loads_with_delimiter(char separator)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(5);
        var dir = fixture.WriteTo(Dir("v1"), "csv");
        foreach (var f in Directory.GetFiles(dir, "*.csv"))
            File.WriteAllText(f, ToSeparator(File.ReadAllText(f), separator));

        var e = await Assert.ThrowsAsync<LoadCheckException>(() => Load(db, dir));
        Assert.StartsWith("recommendations.csv: the header is one field holding", e.Message, StringComparison.Ordinal);
        Assert.Contains("--delimiter", e.Message, StringComparison.Ordinal);

        var result = await Load(db, dir, delimiter: separator);
        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(5L, await Scalar<long>(db, "SELECT count(*) FROM recommendations"));
    }

    // The fixture's CSV quotes every field holding a comma; outside quotes, commas are separators.
    static string ToSeparator(string csv, char separator)
    {
        var sb = new StringBuilder(csv.Length);
        var quoted = false;
        foreach (var ch in csv)
        {
            if (ch == '"') quoted = !quoted;
            sb.Append(ch == ',' && !quoted ? separator : ch);
        }
        return sb.ToString();
    }

    // ---- 3. mass changes by accident ----

    [Fact]
    public async Task Isdns_padded_with_a_space_are_refused_not_loaded_as_new_subscribers()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = FieldCase("isdn_trailing_space");

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Refused, result.Outcome);
        Assert.Contains(result.TopCauses, c => c is { File: "recommendations.parquet", Column: "isdn", Rows: 20 } && c.Reason.Contains("spaces", StringComparison.Ordinal));
        Assert.Equal(0L, await Scalar<long>(db, "SELECT count(*) FROM recommendations"));
    }

    [Theory]
    [InlineData("parquet", " ")]
    [InlineData("csv", "\t")]
    [InlineData("csv", "0912345678")]
    public async Task An_isdn_not_of_the_documented_shape_is_rejected(string format, string how)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        var isdn = UpstreamFixture.Isdn(3);
        fixture.Recommendations[3]["isdn"] = how.Length == 1 ? how + isdn : how;

        await Load(db, fixture.WriteTo(Dir("v1"), format), maxRejectRate: 0.5);

        Assert.Contains(await Rejects(Dir("v1")), l => l.StartsWith($"recommendations.{format},4,isdn,", StringComparison.Ordinal)
            && (l.Contains("spaces around it", StringComparison.Ordinal) || l.Contains("not an ISDN", StringComparison.Ordinal)));
        Assert.Equal(0L, await Scalar<long>(db, $"SELECT count(*) FROM recommendations WHERE isdn NOT LIKE '%=='"));
    }

    [Theory]
    [InlineData("parquet")]
    [InlineData("csv")]
    public async Task A_snapshot_that_lost_its_tail_is_stopped_before_commit_saying_what_it_would_delete(string format)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(40);
        await Load(db, fixture.WriteTo(Dir("v1"), format));
        var before = await Content(db);
        // An interrupted copy: the last 4 subscribers (10 %) are gone from all three files.
        var gone = Enumerable.Range(36, 4).Select(UpstreamFixture.Isdn).ToHashSet();
        fixture.Recommendations.RemoveAll(r => gone.Contains((string)r["isdn"]!));
        fixture.Profiles.RemoveAll(r => gone.Contains((string)r["isdn"]!));
        fixture.Monthly.RemoveAll(r => gone.Contains((string)r["isdn"]!));
        var dir = fixture.WriteTo(Dir("v2"), format);

        var refused = await Load(db, dir);

        Assert.Equal(LoadOutcome.Refused, refused.Outcome);
        Assert.Contains("would delete 4 of 40 subscribers (10 %) and 12 of 120 monthly rows", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--max-delete-percent", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, await Content(db));
        Assert.Equal("refused", await Scalar<string>(db, $"SELECT outcome FROM data_loads WHERE id = {refused.LoadId}"));

        var allowed = await Load(db, dir, maxDeletePercent: 100);
        Assert.Equal(LoadOutcome.Succeeded, allowed.Outcome);
        Assert.Equal(36L, await Scalar<long>(db, "SELECT count(*) FROM recommendations"));
    }

    [Fact]
    public async Task A_monthly_file_that_lost_rows_is_stopped_by_the_guard_too()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(20);
        await Load(db, fixture.WriteTo(Dir("v1"), "parquet"));
        var before = await Content(db);
        fixture.Monthly.RemoveRange(50, 10); // 10 of 60 monthly rows, every subscriber still there

        var result = await Load(db, fixture.WriteTo(Dir("v2"), "parquet"));

        Assert.Equal(LoadOutcome.Refused, result.Outcome);
        Assert.Contains("would delete 0 of 20 subscribers (0 %) and 10 of 60 monthly rows", result.Message, StringComparison.Ordinal);
        Assert.Equal(before, await Content(db));
    }

    // ---- 4. values as the design defines them ----

    [Fact]
    public async Task Labels_written_in_NFD_are_stored_in_NFC()
    {
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, FieldCase("nfd_labels"));

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.True(await Scalar<long>(db, "SELECT count(*) FROM recommendations WHERE arpu_trend = 'Tăng trưởng'") > 0);
        Assert.Equal(0L, await Scalar<long>(db, """
            SELECT count(*) FROM subscriber_360_profiles
            WHERE NOT (arpu_trend IS NFC NORMALIZED AND coalesce(topup_frequency_class, '') IS NFC NORMALIZED
                AND coalesce(cluster_label, '') IS NFC NORMALIZED AND coalesce(classification_reason, '') IS NFC NORMALIZED
                AND coalesce(risk_factors::text, '') IS NFC NORMALIZED AND coalesce(strengths::text, '') IS NFC NORMALIZED)
            """));
    }

    [Fact]
    public async Task Nfd_text_in_csv_is_stored_in_NFC_too()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(6);
        foreach (var r in fixture.Recommendations)
            r["topup_frequency_class"] = ((string)r["topup_frequency_class"]!).Normalize(NormalizationForm.FormD);
        foreach (var p in fixture.Profiles)
            p["classification_reason"] = ((string)p["classification_reason"]!).Normalize(NormalizationForm.FormD);

        await Load(db, fixture.WriteTo(Dir("v1"), "csv"));

        Assert.Equal(6L, await Scalar<long>(db, "SELECT count(*) FROM recommendations WHERE topup_frequency_class = 'Trung bình'"));
        Assert.Equal(6L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_360_profiles WHERE classification_reason = 'Thuê bao có doanh thu ổn định, phù hợp ứng tiền.'"));
    }

    [Fact]
    public async Task Invalid_utf8_inside_a_parquet_string_is_rejected_not_replaced()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        var dir = fixture.WriteTo(Dir("v1"), "parquet");
        var writer = new ArrowWriter();
        writer.Overrides["cluster_label"] = new(new Column<byte[]?>("cluster_label", LogicalType.String()),
            v => v is string s ? s == "Nhóm 2" ? [0x4E, 0x68, 0xC3, 0x28, 0x6D] : Encoding.UTF8.GetBytes(s) : null);
        writer.Write(Path.Combine(dir, "profiles.parquet"), UpstreamFormat.Profiles, fixture.Profiles);

        var result = await Load(db, dir, maxRejectRate: 0.5);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Contains(await Rejects(dir), l => l.StartsWith("profiles.parquet,3,cluster_label,", StringComparison.Ordinal) && l.Contains("not valid UTF-8", StringComparison.Ordinal));
        Assert.Equal(0L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_360_profiles WHERE cluster_label LIKE '%' || chr(65533) || '%'"));
        Assert.Equal(8L, await Scalar<long>(db, "SELECT count(*) FROM recommendations")); // subscribers 2 and 6
    }

    [Theory]
    [InlineData("parquet", "user_type", "None")]
    [InlineData("csv", "arpu_trend", "nan")]
    [InlineData("csv", "topup_frequency_class", "NULL")]
    [InlineData("parquet", "arpu_trend", "Tang truong")]
    public async Task A_vocabulary_column_takes_only_its_values(string format, string column, string value)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        fixture.Recommendations[4][column] = value;

        await Load(db, fixture.WriteTo(Dir("v1"), format), maxRejectRate: 0.5);

        Assert.Contains(await Rejects(Dir("v1")), l => l.StartsWith($"recommendations.{format},5,{column},{value},\"not one of", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("profiles", "cluster_label", "None")]
    [InlineData("profiles", "classification_reason", "nan")]
    public async Task A_missing_value_written_as_text_is_rejected_in_free_text_too(string file, string column, string value)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        (file == "profiles" ? fixture.Profiles : fixture.Recommendations)[4][column] = value;

        await Load(db, fixture.WriteTo(Dir("v1"), "csv"), maxRejectRate: 0.5);

        Assert.Contains(await Rejects(Dir("v1")), l => l.StartsWith($"{file}.csv,5,{column},{value},a missing value written as text", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("advance_amount", "20.000", "below 1,000 VND")]
    [InlineData("advance_amount", "20.500", "not a whole number of VND")]
    [InlineData("topup_avg_amount", "50.5", "not a whole number of VND")]
    [InlineData("revenue_per_advance", "40000", "more than the advance itself")]
    public async Task Vnd_amounts_that_are_not_plausible_are_rejected(string column, string value, string reason)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        fixture.Recommendations[4][column] = value;

        await Load(db, fixture.WriteTo(Dir("v1"), "csv"), maxRejectRate: 0.5);

        Assert.Contains(await Rejects(Dir("v1")), l => l.StartsWith($"recommendations.csv,5,{column},", StringComparison.Ordinal) && l.Contains(reason, StringComparison.Ordinal));
    }

    // ---- 5. DECIMAL in V2 data pages ----

    [Fact]
    public async Task DuckDB_decimals_in_v2_pages_load_with_the_files_values()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = FieldCase("decimal_delta_v2");

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(SumOfDecimals(Path.Combine(dir, "recommendations.parquet"), "arpu_avg_6m"),
            await Scalar<decimal>(db, "SELECT sum(arpu_avg_6m) FROM recommendations"));
    }

    static decimal SumOfDecimals(string path, string column)
    {
        using var reader = new ParquetFileReader(path);
        var index = Enumerable.Range(0, reader.FileMetaData.NumColumns).Single(i => reader.FileMetaData.Schema.Column(i).Name == column);
        using var group = reader.RowGroup(0);
        using var values = group.Column(index).LogicalReader<decimal?>();
        return values.ReadAll((int)group.MetaData.NumRows).Sum(v => v ?? 0);
    }

    [Fact]
    public async Task Decimals_of_every_column_kind_in_delta_encoded_v2_pages_load_exactly()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(12);
        var dir = fixture.WriteTo(Dir("v1"), "parquet");
        var writer = new ArrowWriter { PageV2 = true };
        writer.Overrides["arpu_call"] = ArrowWriter.Decimal("arpu_call", 10, 2);
        writer.Overrides["arpu_total"] = ArrowWriter.Decimal("arpu_total", 18, 2);
        writer.Write(Path.Combine(dir, "monthly_arpu.parquet"), UpstreamFormat.MonthlyArpu, fixture.Monthly);
        var recWriter = new ArrowWriter { PageV2 = true };
        recWriter.Overrides["advance_amount"] = ArrowWriter.Decimal("advance_amount", 12, 2);
        recWriter.Write(Path.Combine(dir, "recommendations.parquet"), UpstreamFormat.Recommendations, fixture.Recommendations);
        await using var reference = await TestDatabase.CreateAsync();
        await Load(reference, fixture.WriteTo(Dir("plain"), "parquet"));

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(await Content(reference), await Content(db));
    }

    // ---- 6. CSV that is not UTF-8 ----

    [Fact]
    public async Task An_excel_code_page_1258_csv_is_refused_naming_file_line_and_encoding_and_read_with_the_encoding()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = FieldCase("csv_cp1258");

        var e = await Assert.ThrowsAsync<LoadCheckException>(() => Load(db, dir));
        Assert.StartsWith("recommendations.csv: not valid UTF-8: line 2,", e.Message, StringComparison.Ordinal);
        Assert.Contains("--encoding windows-1258", e.Message, StringComparison.Ordinal);

        // Read as windows-1258, the combining tone marks of the code page compose (NFC) into
        // the vocabulary's letters: "Trung bi\xCCnh" is "Trung bình". The writer of this file
        // lost the letters 1258 has no place for (ă, ư, ơ written decomposed became "?"), and
        // those rows are rejected rather than stored as "Ta?ng tru?o?̉ng".
        var result = await Load(db, dir, encoding: "windows-1258");
        var rejects = await Rejects(dir);
        Assert.Equal(LoadOutcome.Refused, result.Outcome);
        Assert.Contains(rejects, l => l.Contains(",arpu_trend,Ta?ng tru?o", StringComparison.Ordinal));
        Assert.DoesNotContain(rejects, l => l.Contains(",topup_frequency_class,Trung b", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_code_page_1258_csv_loads_with_the_encoding_like_the_utf8_one()
    {
        var fixture = UpstreamFixture.Create(12);
        await using var reference = await TestDatabase.CreateAsync();
        await Load(reference, fixture.WriteTo(Dir("utf8"), "csv"));
        var dir = WriteCp1258(fixture, Dir("cp1258"));
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, dir, encoding: "windows-1258");

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(await Content(reference), await Content(db));
    }

    /// The fixture's CSV as Windows writes code page 1258: a letter the code page lacks is
    /// its base letter followed by the combining tone mark (ổ = ô + U+0309).
    string WriteCp1258(UpstreamFixture fixture, string dir)
    {
        fixture.WriteTo(dir, "csv");
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var cp1258 = Encoding.GetEncoding(1258, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
        foreach (var f in Directory.GetFiles(dir, "*.csv"))
        {
            var bytes = new List<byte>();
            foreach (var c in File.ReadAllText(f))
            {
                var one = c.ToString();
                try
                {
                    bytes.AddRange(cp1258.GetBytes(one));
                }
                catch (EncoderFallbackException)
                {
                    // The tone mark (grave, acute, tilde, hook, dot below) comes off; the rest
                    // composes into a letter the code page has (ậ = â + dot below). Encoded
                    // apart: the encoder would compose the pair again, and then fail on it.
                    var nfd = one.Normalize(NormalizationForm.FormD);
                    var tone = nfd.First(ch => ch is '\u0300' or '\u0301' or '\u0303' or '\u0309' or '\u0323');
                    bytes.AddRange(cp1258.GetBytes(nfd.Replace(tone.ToString(), "", StringComparison.Ordinal).Normalize(NormalizationForm.FormC)));
                    bytes.AddRange(cp1258.GetBytes(tone.ToString()));
                }
            }
            File.WriteAllBytes(f, bytes.ToArray());
        }
        return dir;
    }

    [Fact]
    public async Task A_bad_byte_far_into_a_csv_is_reported_at_its_own_line()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(1000, months: 1);
        var dir = fixture.WriteTo(Dir("v1"), "csv");
        var path = Path.Combine(dir, "profiles.csv");
        var lines = File.ReadAllLines(path, Encoding.UTF8).ToList();
        var bytes = lines.Select((l, i) => i == 900 ? Encoding.Latin1.GetBytes(l.Replace("ổn", "\u00f4n", StringComparison.Ordinal)) : Encoding.UTF8.GetBytes(l))
            .SelectMany(b => b.Append((byte)'\n')).ToArray();
        File.WriteAllBytes(path, bytes);

        var e = await Assert.ThrowsAsync<LoadCheckException>(() => Load(db, dir));

        Assert.StartsWith("profiles.csv: not valid UTF-8: line 901,", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Utf16_without_a_byte_order_mark_is_refused_and_with_the_encoding_loads()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = UpstreamFixture.Create(5).WriteTo(Dir("v1"), "csv");
        foreach (var f in Directory.GetFiles(dir, "*.csv"))
            File.WriteAllBytes(f, Encoding.Unicode.GetBytes(File.ReadAllText(f)));

        var e = await Assert.ThrowsAsync<LoadCheckException>(() => Load(db, dir));
        Assert.StartsWith("recommendations.csv: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("UTF-16", e.Message, StringComparison.Ordinal);

        var result = await Load(db, dir, encoding: "utf-16");
        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
    }

    // ---- 7. damaged Parquet ----

    [Fact]
    public async Task A_parquet_file_damaged_anywhere_is_loaded_rejected_or_refused_never_a_crash()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(20);
        await Load(db, fixture.WriteTo(Dir("v1"), "parquet"));
        var before = await Content(db);
        var good = File.ReadAllBytes(Path.Combine(Dir("v1"), "profiles.parquet"));
        var outcomes = new List<string>();

        for (var offset = 4; offset < good.Length - 8; offset += Math.Max(1, good.Length / 60))
        {
            var dir = fixture.WriteTo(Dir("d" + offset), "parquet");
            var bad = (byte[])good.Clone();
            for (var i = offset; i < Math.Min(offset + 4, bad.Length - 8); i++)
                bad[i] ^= 0x5A;
            File.WriteAllBytes(Path.Combine(dir, "profiles.parquet"), bad);
            try
            {
                var r = await Load(db, dir, maxRejectRate: 1, maxDeletePercent: 100);
                outcomes.Add(r.Outcome.ToString());
            }
            catch (LoadCheckException e)
            {
                Assert.StartsWith("profiles.parquet", e.Message, StringComparison.Ordinal);
                outcomes.Add("stopped");
            }
            await Load(db, Dir("v1"), maxDeletePercent: 100); // back to the known data for the next round
        }

        Assert.Contains("stopped", outcomes);
        Assert.Equal(before, await Content(db));
    }

    // ---- 8. layouts ----

    [Fact]
    public async Task Spark_part_folders_load_as_one_table_each()
    {
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, FieldCase("spark_folders"));

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(20L, await Scalar<long>(db, "SELECT count(*) FROM recommendations"));
        Assert.Equal("recommendations.parquet", result.Files[0].Name);
    }

    [Theory]
    [InlineData("parquet", "{0}")]
    [InlineData("parquet", "{0}.parquet")]
    [InlineData("csv", "{0}")]
    [InlineData("csv", "{0}.csv")]
    public async Task Folders_of_several_parts_give_the_same_data_as_single_files(string format, string folder)
    {
        var fixture = UpstreamFixture.Create(30);
        await using var single = await TestDatabase.CreateAsync();
        await Load(single, fixture.WriteTo(Dir("single"), format));
        var dir = Dir("parts");
        var halves = new[] { Slice(fixture, 0, 15), Slice(fixture, 15, 30) };
        for (var h = 0; h < 2; h++)
        {
            var tmp = halves[h].WriteTo(Dir("half" + h), format);
            foreach (var file in UpstreamFormat.Files)
            {
                var target = Path.Combine(dir, string.Format(System.Globalization.CultureInfo.InvariantCulture, folder, file.Name));
                Directory.CreateDirectory(target);
                var ext = format == "parquet" ? ".snappy.parquet" : ".csv";
                File.Copy(Path.Combine(tmp, format == "parquet" ? file.ParquetFile : file.CsvFile), Path.Combine(target, $"part-0000{h}-c000{ext}"));
                File.WriteAllText(Path.Combine(target, "_SUCCESS"), "");
                File.WriteAllText(Path.Combine(target, $".part-0000{h}-c000{ext}.crc"), "not data");
            }
        }
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(await Content(single), await Content(db));
    }

    static UpstreamFixture Slice(UpstreamFixture f, int from, int to)
    {
        var s = new UpstreamFixture();
        var isdns = f.Recommendations.Skip(from).Take(to - from).Select(r => (string)r["isdn"]!).ToHashSet();
        s.Recommendations.AddRange(f.Recommendations.Where(r => isdns.Contains((string)r["isdn"]!)));
        s.Profiles.AddRange(f.Profiles.Where(r => isdns.Contains((string)r["isdn"]!)));
        s.Monthly.AddRange(f.Monthly.Where(r => isdns.Contains((string)r["isdn"]!)));
        return s;
    }

    [Fact]
    public async Task A_spark_folder_with_a_temporary_folder_is_an_unfinished_job_and_stops_the_load()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = FieldCase("spark_folders");
        Directory.CreateDirectory(Path.Combine(dir, "profiles.parquet", "_temporary", "0"));

        var e = await Assert.ThrowsAsync<LoadCheckException>(() => Load(db, dir));

        Assert.StartsWith("profiles.parquet: holds a _temporary folder", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gzip_compressed_csv_loads_like_the_plain_csv()
    {
        var fixture = UpstreamFixture.Create(25);
        await using var plain = await TestDatabase.CreateAsync();
        await Load(plain, fixture.WriteTo(Dir("plain"), "csv"));
        var dir = fixture.WriteTo(Dir("gz"), "csv");
        foreach (var f in Directory.GetFiles(dir, "*.csv"))
        {
            using (var input = File.OpenRead(f))
            using (var output = new GZipStream(File.Create(f + ".gz"), CompressionLevel.Fastest))
                input.CopyTo(output);
            File.Delete(f);
        }
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal("recommendations.csv.gz", result.Files[0].Name);
        Assert.Equal(await Content(plain), await Content(db));
    }

    // ---- 9. pandas types ----

    [Fact]
    public async Task Pandas_float64_cluster_groups_with_nulls_load_as_integers()
    {
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, FieldCase("pandas_float_cluster"));

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.True(await Scalar<long>(db, "SELECT count(*) FROM recommendations WHERE cluster_group IS NULL") > 0);
        Assert.Equal(0L, await Scalar<long>(db, "SELECT count(*) FROM recommendations WHERE cluster_group NOT BETWEEN 0 AND 3"));
    }

    [Theory]
    [InlineData("parquet", 1.5)]
    [InlineData("csv", 1.5)]
    [InlineData("parquet", 2.0)]
    [InlineData("csv", 2.0)]
    public async Task A_fractional_cluster_is_rejected_naming_the_row_and_an_integral_one_loads(string format, double value)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        fixture.ParquetTypeOverride[("recommendations", "cluster_group")] = typeof(double);
        foreach (var r in fixture.Recommendations)
            r["cluster_group"] = Convert.ToDouble(r["cluster_group"], System.Globalization.CultureInfo.InvariantCulture);
        fixture.Recommendations[6]["cluster_group"] = value;

        await Load(db, fixture.WriteTo(Dir("v1"), format), maxRejectRate: 0.5);

        if (value == 1.5)
            Assert.Contains($"recommendations.{format},7,cluster_group,1.5,not an integer", await Rejects(Dir("v1")));
        else
            Assert.Equal(2, await Scalar<int>(db, $"SELECT cluster_group FROM recommendations WHERE isdn = '{UpstreamFixture.Isdn(6)}'"));
    }

    [Fact]
    public async Task Pandas_int64_data_months_load_as_yyyymm()
    {
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, FieldCase("pandas_int_month"));

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(0L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_monthly_arpu WHERE data_month !~ '^20[0-9]{2}(0[1-9]|1[0-2])$'"));
        Assert.Equal(140L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_monthly_arpu"));
    }

    [Fact]
    public async Task Int32_data_months_load_and_an_impossible_one_is_rejected()
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        fixture.ParquetTypeOverride[("monthly_arpu", "data_month")] = typeof(int);
        fixture.Monthly[4]["data_month"] = "202513";

        await Load(db, fixture.WriteTo(Dir("v1"), "parquet"), maxRejectRate: 0.5);

        Assert.Contains("monthly_arpu.parquet,5,data_month,202513,not a month (YYYYMM)", await Rejects(Dir("v1")));
        Assert.Equal(27L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_monthly_arpu"));
    }

    [Fact]
    public async Task Json_array_columns_written_as_list_of_string_load_as_json_arrays()
    {
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, FieldCase("json_as_list"));

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(0L, await Scalar<long>(db, "SELECT count(*) FROM subscriber_360_profiles WHERE risk_factors IS NOT NULL AND jsonb_typeof(risk_factors) <> 'array'"));
        Assert.True(await Scalar<long>(db, "SELECT count(*) FROM subscriber_360_profiles, jsonb_array_elements_text(risk_factors)") > 0);
    }

    [Fact]
    public async Task A_list_column_written_by_arrow_loads_the_same_as_its_json_text()
    {
        var fixture = UpstreamFixture.Create(8);
        await using var reference = await TestDatabase.CreateAsync();
        await Load(reference, fixture.WriteTo(Dir("text"), "parquet"));
        var dir = fixture.WriteTo(Dir("list"), "parquet");
        var writer = new ArrowWriter();
        foreach (var c in new[] { "risk_factors", "strengths", "recommendations_text" })
            writer.Overrides[c] = ArrowWriter.List(c);
        writer.Write(Path.Combine(dir, "profiles.parquet"), UpstreamFormat.Profiles, fixture.Profiles);
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, dir);

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        Assert.Equal(await Content(reference), await Content(db));
    }

    // ---- memory: the files stream through in batches ----

    [Fact]
    public async Task Rows_across_batch_boundaries_load_and_are_checked_like_the_rest()
    {
        // 12,000 subscribers × 3 months = 36,000 monthly rows: more than one batch of each reader.
        var fixture = UpstreamFixture.Create(12_000);
        Assert.True(fixture.Monthly.Count > ParquetSource.BatchRows && fixture.Monthly.Count > CsvSource.BatchRows);
        // A duplicate month whose first copy is in the first batch and the second in the last.
        var first = fixture.Monthly[10];
        fixture.Monthly[35_000]["isdn"] = first["isdn"];
        fixture.Monthly[35_000]["data_month"] = first["data_month"];
        await using var fromParquet = await TestDatabase.CreateAsync();
        await using var fromCsv = await TestDatabase.CreateAsync();
        var pq = fixture.WriteTo(Dir("pq"), "parquet");
        var csv = fixture.WriteTo(Dir("csv"), "csv");
        // The CSV copy was cut inside its last number.
        var monthly = Path.Combine(csv, "monthly_arpu.csv");
        File.WriteAllText(monthly, File.ReadAllText(monthly)[..^3]);

        var p = await Load(fromParquet, pq);
        var c = await Load(fromCsv, csv);

        Assert.Equal((LoadOutcome.Succeeded, LoadOutcome.Succeeded), (p.Outcome, c.Outcome));
        Assert.Contains("monthly_arpu.parquet,11,data_month,202504,duplicate month for this ISDN (also row 35001)", await Rejects(pq));
        Assert.Contains("monthly_arpu.parquet,35001,data_month,202504,duplicate month for this ISDN (also row 11)", await Rejects(pq));
        var csvRejects = await Rejects(csv);
        Assert.Contains(csvRejects, l => l.StartsWith("monthly_arpu.csv,36000,*,,the file ends inside this record", StringComparison.Ordinal));
        Assert.Equal(11_999L - 1, await Scalar<long>(fromCsv, "SELECT count(*) FROM recommendations"));
        Assert.Equal(11_999L, await Scalar<long>(fromParquet, "SELECT count(*) FROM recommendations"));
        Assert.Equal(await Scalar<long>(fromParquet, "SELECT count(*) FROM recommendations WHERE advance_amount > 0"),
            await Scalar<long>(fromParquet, "SELECT count(*) FROM recommendations"));
        // Every staged row of the Parquet load is the fixture's: ids follow the file's order.
        Assert.Equal(UpstreamFixture.Isdn(11_999), await Scalar<string>(fromParquet, "SELECT isdn FROM recommendations ORDER BY id DESC LIMIT 1"));
    }

    // ---- 10. messages ----

    [Fact]
    public async Task A_refusal_names_its_top_causes()
    {
        await using var db = await TestDatabase.CreateAsync();

        var result = await Load(db, FieldCase("refusal_cause"));

        Assert.Equal(LoadOutcome.Refused, result.Outcome);
        var top = Assert.Single(result.TopCauses);
        Assert.Equal(("recommendations.parquet", "subscriber_type", 20), (top.File, top.Column, top.Rows));
        Assert.StartsWith("padded with spaces", top.Reason, StringComparison.Ordinal);
    }

    /// The command line: each kind of damaged or foreign input ends with exit 2, a message
    /// naming the file, no stack trace, and the database as it was.
    public static TheoryData<string> ForeignInputs => new()
    {
        "cp1258", "utf16-no-bom", "semicolons", "parquet-page-header", "parquet-no-footer", "not-gzip", "wrong-type", "missing-file",
    };

    [Theory]
    [MemberData(nameof(ForeignInputs))]
    public async Task The_command_exits_2_naming_the_file_without_a_stack_trace(string kind)
    {
        await using var db = await TestDatabase.CreateAsync();
        var fixture = UpstreamFixture.Create(10);
        var format = kind is "cp1258" or "utf16-no-bom" or "semicolons" or "not-gzip" ? "csv" : "parquet";
        await Load(db, fixture.WriteTo(Dir("v1"), format));
        var before = await Content(db);
        string dir, file;
        switch (kind)
        {
            case "cp1258":
                dir = FieldCase("csv_cp1258"); file = "recommendations.csv"; break;
            case "utf16-no-bom":
                dir = fixture.WriteTo(Dir("v2"), "csv"); file = "profiles.csv";
                File.WriteAllBytes(Path.Combine(dir, file), Encoding.Unicode.GetBytes(File.ReadAllText(Path.Combine(dir, file)))); break;
            case "semicolons":
                dir = fixture.WriteTo(Dir("v2"), "csv"); file = "monthly_arpu.csv";
                File.WriteAllText(Path.Combine(dir, file), ToSeparator(File.ReadAllText(Path.Combine(dir, file)), ';')); break;
            case "not-gzip":
                dir = fixture.WriteTo(Dir("v2"), "csv"); file = "profiles.csv.gz";
                File.Move(Path.Combine(dir, "profiles.csv"), Path.Combine(dir, file)); break;
            case "parquet-page-header":
            {
                dir = fixture.WriteTo(Dir("v2"), "parquet"); file = "recommendations.parquet";
                var bytes = File.ReadAllBytes(Path.Combine(dir, file));
                for (var i = 4; i < 12; i++) bytes[i] = 0xFF; // the first page header, right after "PAR1"
                File.WriteAllBytes(Path.Combine(dir, file), bytes);
                break;
            }
            case "parquet-no-footer":
            {
                dir = fixture.WriteTo(Dir("v2"), "parquet"); file = "monthly_arpu.parquet";
                var bytes = File.ReadAllBytes(Path.Combine(dir, file));
                File.WriteAllBytes(Path.Combine(dir, file), bytes[..(bytes.Length / 2)]);
                break;
            }
            case "wrong-type":
                fixture.ParquetTypeOverride[("recommendations", "advance_amount")] = typeof(string);
                foreach (var r in fixture.Recommendations) r["advance_amount"] = "25000";
                dir = fixture.WriteTo(Dir("v2"), "parquet"); file = "recommendations.parquet"; break;
            default:
                dir = fixture.WriteTo(Dir("v2"), "parquet"); file = "profiles.parquet";
                File.Delete(Path.Combine(dir, file)); break;
        }

        var (exit, output) = await RunCliAsync(db, "load", dir, "--rejects", Path.Combine(dir, "rejects.csv"));

        Assert.True(exit == 2, $"exit {exit}: {output}");
        Assert.Contains(file, output.Replace("\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", output, StringComparison.Ordinal);
        Assert.Equal(before, await Content(db));
    }

    [Fact]
    public async Task The_command_prints_the_top_causes_of_a_refusal_and_exits_3()
    {
        await using var db = await TestDatabase.CreateAsync();

        var (exit, output) = await RunCliAsync(db, "load", FieldCase("refusal_cause"), "--rejects", Path.Combine(Dir("refusal_cause"), "rejects.csv"));

        Assert.Equal(3, exit);
        var flat = string.Join(' ', output.Split('\n', StringSplitOptions.TrimEntries));
        Assert.Contains("recommendations.parquet, column subscriber_type: padded with spaces", flat, StringComparison.Ordinal);
        Assert.Contains("(20 rows)", flat, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_command_loads_a_cp1258_csv_with_the_encoding_option()
    {
        await using var db = await TestDatabase.CreateAsync();
        var dir = WriteCp1258(UpstreamFixture.Create(10), Dir("cp1258"));

        var (exit, output) = await RunCliAsync(db, "load", dir, "--encoding", "windows-1258", "--rejects", Path.Combine(dir, "rejects.csv"));

        Assert.True(exit == 0, output);
        Assert.Equal(10L, await Scalar<long>(db, "SELECT count(*) FROM recommendations WHERE arpu_trend IN ('Tăng trưởng', 'Ổn định', 'Giảm')"));
    }

    static Task<(int Code, string Output)> RunCliAsync(TestDatabase db, params string[] args) =>
        CliProcess.RunAsync(CliProcess.Info(db.ConnectionString, null, new Dictionary<string, string> { ["COLUMNS"] = "400" }, args));
}
