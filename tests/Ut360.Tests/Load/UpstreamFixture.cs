using System.Globalization;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;
using Ut360.Data.Upstream;

namespace Ut360.Tests.Load;

/// A small, deterministic upstream data set written as Parquet (the generator's physical types)
/// or CSV, with rows that tests can change, drop or break before writing.
public sealed class UpstreamFixture
{
    public List<Dictionary<string, object?>> Recommendations { get; } = [];
    public List<Dictionary<string, object?>> Profiles { get; } = [];
    public List<Dictionary<string, object?>> Monthly { get; } = [];

    /// Columns to leave out of a file, and columns to write with another Parquet type.
    public Dictionary<string, HashSet<string>> Omit { get; } = [];
    public Dictionary<(string File, string Column), Type> ParquetTypeOverride { get; } = [];

    static readonly string[] Services = ["EasyCredit", "MBFG", "ungsanluong"];
    static readonly string[] Trends = ["Tăng trưởng", "Ổn định", "Giảm"];

    public static string Isdn(int i) => Convert.ToBase64String(BitConverter.GetBytes((long)i * 7919 + 84912000000L).Concat(new byte[8]).ToArray());

    public static UpstreamFixture Create(int subscribers, int months = 3, DateOnly? date = null)
    {
        var f = new UpstreamFixture();
        var day = date ?? new DateOnly(2025, 10, 22);
        for (var i = 0; i < subscribers; i++)
        {
            var isdn = Isdn(i);
            double cv = 40 + i % 60, ar = 30 + (i * 7) % 70;
            f.Recommendations.Add(new()
            {
                ["isdn"] = isdn,
                ["subscriber_type"] = i % 5 == 0 ? "POS" : "PRE",
                ["service_type"] = Services[i % 3],
                ["advance_amount"] = 10000.0 + 5000 * (i % 5),
                ["revenue_per_advance"] = 3000.0 + 1500 * (i % 5),
                ["cluster_group"] = i % 4,
                ["bad_debt_risk"] = i % 6 == 0 ? "MEDIUM" : "LOW",
                ["arpu_avg_6m"] = 2757.5 + i,
                ["arpu_std_6m"] = 1234.5,
                ["arpu_min_6m"] = 1000.0,
                ["arpu_max_6m"] = 5000.0,
                ["arpu_growth_rate"] = -56.7 + i % 100,
                ["arpu_trend"] = Trends[i % 3],
                ["revenue_call_pct"] = 40.25,
                ["revenue_sms_pct"] = 9.75,
                ["revenue_data_pct"] = 50.0,
                ["user_type"] = "Balanced",
                ["topup_frequency"] = 3.5,
                ["topup_avg_amount"] = 20000.0,
                ["topup_advance_ratio"] = 0.8125,
                ["topup_frequency_class"] = "Trung bình",
                ["customer_value_score"] = cv,
                ["advance_readiness_score"] = ar,
                ["priority_score"] = Math.Round(cv * ar / 100, 2),
                ["recommendation_date"] = day,
            });
            f.Profiles.Add(new()
            {
                ["isdn"] = isdn,
                ["arpu_first_month"] = 3500.0,
                ["arpu_last_month"] = 1500.0 + i,
                ["topup_min_amount"] = 10000.0,
                ["topup_max_amount"] = 50000.0,
                ["risk_score"] = 12.5 + i % 50,
                ["risk_factors"] = """["Doanh thu giảm", "Nạp tiền không đều"]""",
                ["revenue_potential"] = 7500.0 + i,
                ["cluster_label"] = $"Nhóm {i % 4}",
                ["classification_reason"] = "Thuê bao có doanh thu ổn định, phù hợp ứng tiền.",
                ["strengths"] = """["Nạp tiền đều đặn"]""",
                ["recommendations_text"] = """["Ưu tiên gói EasyCredit 25.000đ"]""",
                ["profile_date"] = day,
            });
            for (var m = 0; m < months; m++)
            {
                f.Monthly.Add(new()
                {
                    ["isdn"] = isdn,
                    ["data_month"] = (202503 + m).ToString(CultureInfo.InvariantCulture),
                    ["arpu_call"] = 1000.0 + m + i,
                    ["arpu_sms"] = 200.5,
                    ["arpu_data"] = 1500.25,
                    ["arpu_total"] = 2700.75 + m + i,
                });
            }
        }
        return f;
    }

    IEnumerable<(UpstreamFile File, List<Dictionary<string, object?>> Rows)> Files()
    {
        yield return (UpstreamFormat.Recommendations, Recommendations);
        yield return (UpstreamFormat.Profiles, Profiles);
        yield return (UpstreamFormat.MonthlyArpu, Monthly);
    }

    IEnumerable<UpstreamColumn> Columns(UpstreamFile file) =>
        file.Columns.Where(c => !Omit.TryGetValue(file.Name, out var o) || !o.Contains(c.Name));

    public string WriteTo(string dir, string format)
    {
        Directory.CreateDirectory(dir);
        foreach (var (file, rows) in Files())
        {
            if (format == "parquet")
                WriteParquet(Path.Combine(dir, file.ParquetFile), file, rows).GetAwaiter().GetResult();
            else
                WriteCsv(Path.Combine(dir, file.CsvFile), file, rows);
        }
        return dir;
    }

    async Task WriteParquet(string path, UpstreamFile file, List<Dictionary<string, object?>> rows)
    {
        var columns = Columns(file).ToList();
        var fields = columns.Select(c => Field(file, c)).ToList();
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields.Cast<Field>().ToArray()), stream);
        using var group = writer.CreateRowGroup();
        for (var c = 0; c < columns.Count; c++)
        {
            var name = columns[c].Name;
            var field = fields[c];
            var clr = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
            if (clr == typeof(string) || clr == typeof(ReadOnlyMemory<char>))
                await group.WriteAsync(field, rows.Select(r => (string?)r.GetValueOrDefault(name)).ToArray());
            else if (clr == typeof(int))
                await group.WriteAsync<int>(field, rows.Select(r => r.GetValueOrDefault(name) is { } v ? (int?)Convert.ToInt32(v, CultureInfo.InvariantCulture) : null).ToArray());
            else if (clr == typeof(long))
                await group.WriteAsync<long>(field, rows.Select(r => r.GetValueOrDefault(name) is { } v ? (long?)Convert.ToInt64(v, CultureInfo.InvariantCulture) : null).ToArray());
            else if (clr == typeof(double))
                await group.WriteAsync<double>(field, rows.Select(r => r.GetValueOrDefault(name) is { } v ? (double?)Convert.ToDouble(v, CultureInfo.InvariantCulture) : null).ToArray());
            else if (clr == typeof(DateOnly))
                await group.WriteAsync<DateOnly>(field, rows.Select(r => (DateOnly?)r.GetValueOrDefault(name)).ToArray());
            else
                throw new NotSupportedException(clr.Name);
        }
    }

    DataField Field(UpstreamFile file, UpstreamColumn column)
    {
        if (ParquetTypeOverride.TryGetValue((file.Name, column.Name), out var type))
            return new DataField(column.Name, type, true);
        return column.Kind switch
        {
            ColumnKind.Int => new DataField<int?>(column.Name),
            ColumnKind.Number => new DataField<double?>(column.Name),
            ColumnKind.Date => new DataField<DateOnly?>(column.Name),
            _ => new DataField<string>(column.Name, true),
        };
    }

    void WriteCsv(string path, UpstreamFile file, List<Dictionary<string, object?>> rows)
    {
        var columns = Columns(file).ToList();
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        writer.Write(string.Join(',', columns.Select(c => c.Name)) + "\n");
        var sb = new StringBuilder();
        foreach (var row in rows)
        {
            sb.Clear();
            for (var c = 0; c < columns.Count; c++)
            {
                if (c > 0) sb.Append(',');
                sb.Append(CsvValue(row.GetValueOrDefault(columns[c].Name)));
            }
            sb.Append('\n');
            writer.Write(sb);
        }
    }

    static string CsvValue(object? value) => value switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        string s when s.Length == 0 || s.AsSpan().IndexOfAny(",\"\r\n") >= 0 => "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"",
        string s => s,
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    public static string Json(params string[] items) => JsonSerializer.Serialize(items);
}
