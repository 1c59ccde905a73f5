using System.Text.Json;
using Ut360.Cli.Generate;
using Ut360.Data.Domain;
using Ut360.Data.Upstream;

namespace Ut360.Tests.Generate;

/// 5,000 subscribers written once as Parquet and as CSV, read back for every test of the class.
public sealed class SmallDataset : IAsyncLifetime
{
    public const int Subscribers = 5_000;
    public static readonly GenerateOptions Options = new() { Subscribers = Subscribers, Seed = 7 };

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "ut360-generate-tests-" + Guid.NewGuid().ToString("N"));
    public string CsvDir => Path.Combine(Dir, "csv");
    public string ParquetDir => Path.Combine(Dir, "parquet");
    public Dictionary<string, Array> Rec { get; private set; } = [];
    public Dictionary<string, Array> Prof { get; private set; } = [];
    public Dictionary<string, Array> Monthly { get; private set; } = [];

    public async Task InitializeAsync()
    {
        var data = DatasetGenerator.Generate(Options);
        await DatasetWriter.WriteAsync(data, ParquetDir, UpstreamFileFormat.Parquet);
        await DatasetWriter.WriteAsync(data, CsvDir, UpstreamFileFormat.Csv);
        Rec = await UpstreamFiles.ReadParquetAsync(Path.Combine(ParquetDir, "recommendations.parquet"));
        Prof = await UpstreamFiles.ReadParquetAsync(Path.Combine(ParquetDir, "profiles.parquet"));
        Monthly = await UpstreamFiles.ReadParquetAsync(Path.Combine(ParquetDir, "monthly_arpu.parquet"));
    }

    public Task DisposeAsync()
    {
        Directory.Delete(Dir, recursive: true);
        return Task.CompletedTask;
    }

    public string[] Text(Dictionary<string, Array> file, string column) => ((string?[])file[column]).Select(s => s!).ToArray();
    public double[] Num(Dictionary<string, Array> file, string column) => file[column] switch
    {
        double[] d => d,
        double?[] d => d.Select(v => v ?? throw new InvalidOperationException($"{column} is null")).ToArray(),
        _ => throw new InvalidOperationException(column),
    };
}

public sealed class GeneratorTests(SmallDataset set) : IClassFixture<SmallDataset>
{
    const int N = SmallDataset.Subscribers;
    const double Cent = 0.0100001;

    [Fact]
    public void Service_and_risk_counts_are_the_designs_scaled_by_largest_remainder()
    {
        var services = set.Text(set.Rec, "service_type").GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        var risks = set.Text(set.Rec, "bad_debt_risk").GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        // 5,000 × (142,000 | 45,000 | 27,504) / 214,504 = 3309.97 | 1048.97 | 641.11 → 3310 | 1049 | 641.
        Assert.Equal(new Dictionary<string, int> { ["EasyCredit"] = 3310, ["MBFG"] = 1049, ["ungsanluong"] = 641 }, services);
        Assert.Equal(new Dictionary<string, int> { ["LOW"] = 4196, ["MEDIUM"] = 804 }, risks);
    }

    [Fact]
    public void Every_file_has_the_expected_row_count_and_months()
    {
        Assert.Equal(N, set.Rec["isdn"].Length);
        Assert.Equal(N, set.Prof["isdn"].Length);
        Assert.Equal(N * 7, set.Monthly["isdn"].Length);
        Assert.Equal(set.Text(set.Rec, "isdn"), set.Text(set.Prof, "isdn"));
        var months = set.Text(set.Monthly, "data_month");
        var isdns = set.Text(set.Monthly, "isdn");
        var recIsdn = set.Text(set.Rec, "isdn");
        string[] expected = ["202503", "202504", "202505", "202506", "202507", "202508", "202509"];
        for (var i = 0; i < N; i++)
        {
            Assert.Equal(expected, months.AsSpan(i * 7, 7).ToArray());
            Assert.All(isdns.AsSpan(i * 7, 7).ToArray(), s => Assert.Equal(recIsdn[i], s));
        }
        Assert.All((DateOnly[])set.Rec["recommendation_date"], d => Assert.Equal(new DateOnly(2025, 10, 22), d));
        Assert.All((DateOnly[])set.Prof["profile_date"], d => Assert.Equal(new DateOnly(2025, 10, 22), d));
    }

    [Fact]
    public void Isdns_are_unique_encrypted_vietnamese_msisdns()
    {
        var isdns = set.Text(set.Rec, "isdn");
        Assert.Equal(N, isdns.Distinct().Count());
        Assert.All(isdns, s => Assert.True(IsdnCipher.LooksLikeIsdn(s), s));
        using var cipher = new IsdnCipher();
        string[] prefixes = ["32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98", "70", "76", "77", "78", "79",
            "89", "90", "93", "81", "82", "83", "84", "85", "88", "91", "94", "52", "56", "58", "92"];
        var msisdns = isdns.Select(cipher.Decrypt).ToArray();
        Assert.All(msisdns, m =>
        {
            Assert.Matches("^84[0-9]{9}$", m);
            Assert.Contains(m.Substring(2, 2), prefixes);
            Assert.Equal(m, IsdnCipher.NormaliseMsisdn("0" + m[2..]));
        });
        Assert.Equal(N, msisdns.Distinct().Count());
        // A phone number is found again by encrypting it.
        Assert.Equal(isdns[0], cipher.Encrypt(msisdns[0]));
    }

    [Fact]
    public void Monthly_parts_add_up_to_the_total_in_cents()
    {
        var call = set.Num(set.Monthly, "arpu_call");
        var sms = set.Num(set.Monthly, "arpu_sms");
        var data = set.Num(set.Monthly, "arpu_data");
        var total = set.Num(set.Monthly, "arpu_total");
        for (var r = 0; r < total.Length; r++)
        {
            Assert.True(call[r] >= 0 && sms[r] >= 0 && data[r] >= 0 && total[r] > 0, $"row {r}");
            Assert.Equal(Cents(total[r]), Cents(call[r]) + Cents(sms[r]) + Cents(data[r]));
            foreach (var v in new[] { call[r], sms[r], data[r], total[r] })
                Assert.Equal(Math.Round(v, 2), v);
        }
    }

    static long Cents(double v) => (long)Math.Round(v * 100);

    [Fact]
    public void Arpu_statistics_recomputed_from_the_last_six_months_equal_the_files()
    {
        var total = set.Num(set.Monthly, "arpu_total");
        var call = set.Num(set.Monthly, "arpu_call");
        var sms = set.Num(set.Monthly, "arpu_sms");
        var (avg, std, min, max, growth) = (set.Num(set.Rec, "arpu_avg_6m"), set.Num(set.Rec, "arpu_std_6m"),
            set.Num(set.Rec, "arpu_min_6m"), set.Num(set.Rec, "arpu_max_6m"), set.Num(set.Rec, "arpu_growth_rate"));
        var (first, last) = (set.Num(set.Prof, "arpu_first_month"), set.Num(set.Prof, "arpu_last_month"));
        var (callPct, smsPct, dataPct) = (set.Num(set.Rec, "revenue_call_pct"), set.Num(set.Rec, "revenue_sms_pct"), set.Num(set.Rec, "revenue_data_pct"));
        var trend = set.Text(set.Rec, "arpu_trend");
        var userType = set.Text(set.Rec, "user_type");
        for (var i = 0; i < N; i++)
        {
            var window = total.AsSpan(i * 7 + 1, 6).ToArray(); // 202504–202509
            var mean = window.Average();
            Assert.Equal(mean, avg[i], Cent);
            Assert.Equal(Math.Sqrt(window.Sum(v => (v - mean) * (v - mean)) / 5), std[i], Cent);
            Assert.Equal(window.Min(), min[i]);
            Assert.Equal(window.Max(), max[i]);
            Assert.Equal(window[0], first[i]);
            Assert.Equal(window[5], last[i]);
            var g = (window[5] - window[0]) / window[0] * 100;
            Assert.Equal(g, growth[i], Cent);
            Assert.Equal(growth[i] >= 10 ? "Tăng trưởng" : growth[i] <= -10 ? "Giảm" : "Ổn định", trend[i]);

            var sum = window.Sum();
            Assert.Equal(100 * call.AsSpan(i * 7 + 1, 6).ToArray().Sum() / sum, callPct[i], Cent);
            Assert.Equal(100 * sms.AsSpan(i * 7 + 1, 6).ToArray().Sum() / sum, smsPct[i], Cent);
            Assert.Equal(100, callPct[i] + smsPct[i] + dataPct[i], 0.0001);
            Assert.True(dataPct[i] >= 0 && dataPct[i] <= 100);
            Assert.Equal(dataPct[i] >= 60 ? "Heavy Data User" : callPct[i] + smsPct[i] >= 60 ? "Voice/SMS User" : "Balanced", userType[i]);
        }
        Assert.Equal(3, trend.Distinct().Count());
        Assert.Equal(3, userType.Distinct().Count());
    }

    [Fact]
    public void Amounts_are_telco_denominations_averaging_28500_with_30_percent_revenue()
    {
        var amount = set.Num(set.Rec, "advance_amount");
        var revenue = set.Num(set.Rec, "revenue_per_advance");
        Assert.All(amount, a => Assert.Contains((int)a, DatasetGenerator.Denominations));
        Assert.InRange(amount.Average(), 28_500 * 0.98, 28_500 * 1.02);
        for (var i = 0; i < N; i++)
            Assert.Equal(amount[i] * 0.3, revenue[i], 0.001);
        // The one example of the design: 25,000 → 7,500.
        Assert.Contains(Enumerable.Range(0, N), i => amount[i] == 25_000 && revenue[i] == 7_500);
    }

    [Fact]
    public void Topup_behaviour_scores_and_priority_are_consistent()
    {
        var freq = set.Num(set.Rec, "topup_frequency");
        var avg = set.Num(set.Rec, "topup_avg_amount");
        var ratio = set.Num(set.Rec, "topup_advance_ratio");
        var amount = set.Num(set.Rec, "advance_amount");
        var (min, max) = (set.Num(set.Prof, "topup_min_amount"), set.Num(set.Prof, "topup_max_amount"));
        var cls = set.Text(set.Rec, "topup_frequency_class");
        var (cv, ar, priority) = (set.Num(set.Rec, "customer_value_score"), set.Num(set.Rec, "advance_readiness_score"), set.Num(set.Rec, "priority_score"));
        var revenue = set.Num(set.Rec, "revenue_per_advance");
        var potential = set.Num(set.Prof, "revenue_potential");
        for (var i = 0; i < N; i++)
        {
            Assert.Equal(freq[i] >= 4 ? "Cao" : freq[i] >= 2 ? "Trung bình" : "Thấp", cls[i]);
            Assert.True(min[i] <= avg[i] && avg[i] <= max[i] && min[i] >= 10_000, $"row {i}");
            Assert.Equal(Math.Round(avg[i] / amount[i], 4, MidpointRounding.AwayFromZero), ratio[i]);
            Assert.InRange(cv[i], 0, 100);
            Assert.InRange(ar[i], 0, 100);
            Assert.Equal((double)Priority.Score((decimal)cv[i], (decimal)ar[i]), priority[i]);
            Assert.Equal(Math.Round(revenue[i] * ar[i] / 100, 2, MidpointRounding.AwayFromZero), potential[i], 0.001);
        }
        Assert.Equal(3, cls.Distinct().Count());
        Assert.Equal(3, priority.Select(p => Priority.Label((decimal)p)).Distinct().Count());
    }

    [Fact]
    public void Risk_score_and_factors_agree_with_the_risk_level()
    {
        var risk = set.Text(set.Rec, "bad_debt_risk");
        var score = set.Num(set.Prof, "risk_score");
        var factors = set.Text(set.Prof, "risk_factors").Select(j => JsonSerializer.Deserialize<string[]>(j)!).ToArray();
        for (var i = 0; i < N; i++)
        {
            switch (risk[i])
            {
                case "LOW":
                    Assert.InRange(score[i], 0, 34.99);
                    Assert.InRange(factors[i].Length, 0, score[i] < 20 ? 0 : 1);
                    break;
                case "MEDIUM":
                    Assert.InRange(score[i], 35, 64.99);
                    Assert.InRange(factors[i].Length, 1, 3);
                    break;
                default:
                    Assert.InRange(score[i], 65, 100);
                    Assert.InRange(factors[i].Length, 2, 4);
                    break;
            }
        }
        // The riskier level is the one with the worse signals.
        var growth = set.Num(set.Rec, "arpu_growth_rate");
        double MeanGrowth(string level) => Enumerable.Range(0, N).Where(i => risk[i] == level).Average(i => growth[i]);
        Assert.True(MeanGrowth("MEDIUM") < MeanGrowth("LOW"));
    }

    [Fact]
    public void Clusters_have_labels_and_both_subscriber_types_occur()
    {
        var cluster = (int?[])set.Rec["cluster_group"];
        var label = set.Text(set.Prof, "cluster_label");
        Assert.Equal([0, 1, 2, 3], cluster.Select(c => c!.Value).Distinct().Order().ToArray());
        for (var i = 0; i < N; i++)
            Assert.Equal(DatasetGenerator.ClusterLabels[cluster[i]!.Value], label[i]);
        Assert.Equal(["POS", "PRE"], set.Text(set.Rec, "subscriber_type").Distinct().Order().ToArray());
    }

    [Fact]
    public void Texts_are_vietnamese_sentences_quoting_the_subscribers_figures()
    {
        var reason = set.Text(set.Prof, "classification_reason");
        var strengths = set.Text(set.Prof, "strengths").Select(j => JsonSerializer.Deserialize<string[]>(j)!).ToArray();
        var recs = set.Text(set.Prof, "recommendations_text").Select(j => JsonSerializer.Deserialize<string[]>(j)!).ToArray();
        var amount = set.Num(set.Rec, "advance_amount");
        var service = set.Text(set.Rec, "service_type");
        var trend = set.Text(set.Rec, "arpu_trend");
        for (var i = 0; i < N; i++)
        {
            var money = ((long)amount[i]).ToString("N0", System.Globalization.CultureInfo.InvariantCulture).Replace(',', '.') + "₫";
            Assert.Contains(money, reason[i]);
            Assert.Contains(service[i], reason[i]);
            Assert.Contains("xu hướng " + trend[i].ToLowerInvariant(), reason[i]);
            Assert.InRange(strengths[i].Length, 1, 4);
            Assert.Equal(3, recs[i].Length);
            Assert.Contains(money, recs[i][0]);
            Assert.All(strengths[i].Concat(recs[i]), s => Assert.False(string.IsNullOrWhiteSpace(s)));
        }
        Assert.Contains(reason, r => r.Contains("rủi ro nợ xấu thấp", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_parquet_schema_is_the_loaders_contract()
    {
        foreach (var file in UpstreamFormat.Files)
        {
            var schema = await Parquet.ParquetReader.ReadSchemaAsync(Path.Combine(set.ParquetDir, file.ParquetFile));
            Assert.Equal(file.Columns.Select(c => c.Name), schema.DataFields.Select(f => f.Name));
            foreach (var column in file.Columns)
            {
                var field = schema.DataFields.Single(f => f.Name == column.Name);
                Assert.Equal(!column.Required, field.IsNullable);
                var expected = column.Kind switch
                {
                    ColumnKind.Int => typeof(int),
                    ColumnKind.Number => typeof(double),
                    ColumnKind.Date => typeof(DateTime), // DATE; read as DateOnly with UseDateOnlyTypeForDates
                    _ => typeof(ReadOnlyMemory<char>),   // UTF-8 string
                };
                Assert.Equal(expected, field.ClrType);
            }
        }
    }

    [Fact]
    public void Csv_and_parquet_carry_the_same_values()
    {
        foreach (var (file, columns) in new[] { (UpstreamFormat.Recommendations, set.Rec), (UpstreamFormat.Profiles, set.Prof), (UpstreamFormat.MonthlyArpu, set.Monthly) })
        {
            var (header, rows) = UpstreamFiles.ReadCsv(Path.Combine(set.CsvDir, file.CsvFile));
            Assert.Equal(file.Columns.Select(c => c.Name), header);
            Assert.Equal(columns["isdn"].Length, rows.Count);
            for (var c = 0; c < header.Length; c++)
            {
                var values = columns[header[c]];
                for (var r = 0; r < rows.Count; r++)
                    Assert.Equal(UpstreamFiles.CsvForm(values.GetValue(r)), rows[r][c]);
            }
        }
        Assert.False(File.Exists(Path.Combine(set.CsvDir, "recommendations.parquet")));
    }
}
