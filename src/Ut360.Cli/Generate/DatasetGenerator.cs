using System.Globalization;
using System.Text;
using Ut360.Data.Domain;
using Ut360.Data.Upstream;
using static Ut360.Cli.Generate.DatasetGenerator;

namespace Ut360.Cli.Generate;

public sealed record GenerateOptions
{
    public const int DefaultSubscribers = 214_504;
    public const int MaxSubscribers = 20_000_000;
    public const int DefaultWorkChunk = 1024; // ten work items per row group, to share among the cores

    public int Subscribers { get; init; } = DefaultSubscribers;
    public int Months { get; init; } = 7;
    public long Seed { get; init; } = 42;
    /// recommendation_date and profile_date; the monthly rows end with the month before it.
    public DateOnly Date { get; init; } = new(2025, 10, 22);
    public string? IsdnKeyHex { get; init; }
    /// Subscribers per unit of parallel work. It never changes the output (tests write the same bytes
    /// with other sizes); it is an option only so that they can.
    public int WorkChunk { get; init; } = DefaultWorkChunk;
}

/// Counters the progress bar polls; written with Interlocked by the generator threads.
public sealed class GenerateProgress
{
    /// Subscribers through the ranking passes over all subscribers (one, four in the rare fallback).
    public long Ranked;
    public long RecommendationsRows;
    public long ProfilesRows;
    public long MonthlyRows;

    public ref long RowsOf(UpstreamFile file)
    {
        if (file == UpstreamFormat.Recommendations)
            return ref RecommendationsRows;
        if (file == UpstreamFormat.Profiles)
            return ref ProfilesRows;
        return ref MonthlyRows;
    }
}

/// The rows of the subscribers [From, From + Recommendations.RowCount): one row each in
/// recommendations and profiles, Months.Length each in monthly_arpu.
public sealed record GeneratedDataset(UpstreamBatch Recommendations, UpstreamBatch Profiles, UpstreamBatch MonthlyArpu, string[] Months);

/// Generates the upstream dataset of docs/data-format.md in bounded memory. Every subscriber's own
/// behaviour (cluster, monthly ARPU, top-ups, customer value and the keys the global step ranks by) is a
/// pure function of (seed, index), so it is recomputed instead of kept: Start runs the global step
/// (Ranking: the exact service and risk counts and the advance amounts by rank, in four passes over
/// the recomputed keys), then Generation.Generate produces any range of subscribers from (seed, index)
/// and those ranks alone: their behaviour again, what depends on the ranks (ratio, readiness,
/// priority, revenue potential) and the Vietnamese texts. The output depends neither on the ranges
/// asked for nor on scheduling.
public static class DatasetGenerator
{
    /// The ISDN of the design document's examples (section 2.2 A, Patterns 1, 2, 5 and 6).
    public const string DesignExampleIsdn = "++/hZFPrCDRre55vsZqqxQ==";

    // The design's dataset (section 2.2 F): the counts every N is scaled from.
    public static readonly long[] ServiceWeights = [142_000, 45_000, 27_504];   // Vocabulary.ServiceTypes order
    public static readonly long[] RiskWeights = [180_000, 34_504, 0];            // LOW, MEDIUM, HIGH

    public const int ArpuWindowMonths = 6;
    public const double RevenueRate = 0.30;             // design: 25,000 → 7,500
    public const double TrendThreshold = 10.0;          // growth ≥ +10 % Tăng trưởng, ≤ −10 % Giảm
    public const double HeavyDataPct = 60.0;            // data_pct ≥ 60 → Heavy Data User
    public const double VoiceSmsPct = 60.0;             // call_pct + sms_pct ≥ 60 → Voice/SMS User
    public const double TopupHigh = 4.0;                // top-ups per month ≥ 4 → Cao
    public const double TopupMedium = 2.0;              // ≥ 2 → Trung bình, else Thấp
    public const double RiskMediumFrom = 35.0;          // risk_score bands: LOW [0, 35), MEDIUM [35, 65), HIGH [65, 100]
    public const double RiskHighFrom = 65.0;
    public const double LowRiskQuiet = 20.0;            // LOW below this: no risk factor, "rủi ro rất thấp" strength

    public static readonly string[] ClusterLabels =
    [
        "Khách hàng giá trị cao (High value)",
        "Khách hàng ổn định (Stable)",
        "Khách hàng tiềm năng (Growth potential)",
        "Khách hàng giá trị thấp (Low value)",
    ];

    static readonly double[] ClusterShare = [0.14, 0.36, 0.30, 0.20];
    static readonly double[] ClusterArpuMedian = [85_000, 32_000, 16_000, 5_500];
    static readonly double[] ClusterMonthlyDrift = [0.01, 0.0, 0.04, -0.05];
    static readonly double[] ClusterDataShare = [0.55, 0.45, 0.60, 0.30];
    static readonly double[] ClusterPostpaid = [0.30, 0.12, 0.08, 0.04];

    /// Telco advance denominations (VND) and, per service, the per-mille share of each. The means
    /// (27,525 / 35,450 / 22,100) weighted by the design's service counts give 28,492 ≈ 28,500.
    public static readonly int[] Denominations = [10_000, 15_000, 20_000, 25_000, 30_000, 50_000, 100_000];
    internal static readonly long[][] DenominationShares =
    [
        [125, 130, 200, 195, 165, 160, 25],  // EasyCredit
        [60, 0, 180, 170, 250, 290, 50],     // MBFG
        [270, 220, 200, 0, 170, 140, 0],     // ungsanluong (data packages)
    ];

    static readonly int[] TopupDenominations = [10_000, 20_000, 30_000, 50_000, 100_000, 200_000, 300_000, 500_000];

    /// Real Vietnamese mobile network codes (after the 84 country code).
    internal static readonly string[] MobilePrefixes =
    [
        "32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98",  // Viettel
        "70", "76", "77", "78", "79", "89", "90", "93",                          // MobiFone
        "81", "82", "83", "84", "85", "88", "91", "94",                          // VinaPhone
        "52", "56", "58", "92",                                                  // Vietnamobile
    ];


    public static string[] MonthsFor(DateOnly date, int months)
    {
        var last = new DateOnly(date.Year, date.Month, 1).AddMonths(-1);
        var result = new string[months];
        for (var i = 0; i < months; i++)
            result[i] = last.AddMonths(i - months + 1).ToString("yyyyMM", CultureInfo.InvariantCulture);
        return result;
    }

    /// The whole dataset in memory as one range: for tests and small sizes (the command writes
    /// range by range, DatasetWriter.GenerateAsync).
    public static GeneratedDataset Generate(GenerateOptions options, GenerateProgress? progress = null, CancellationToken ct = default) =>
        Start(options, progress, ct).Generate(0, options.Subscribers, ct);

    /// Checks the options and runs the global step: four passes over all subscribers, memory
    /// independent of their number.
    /// <exception cref="ArgumentOutOfRangeException">Subscribers, Months or WorkChunk out of range.</exception>
    /// <exception cref="FormatException">IsdnKeyHex is not hexadecimal.</exception>
    /// <exception cref="ArgumentException">IsdnKeyHex is not an AES key length.</exception>
    public static Generation Start(GenerateOptions options, GenerateProgress? progress = null, CancellationToken ct = default)
    {
        if (options.Subscribers is < 1 or > GenerateOptions.MaxSubscribers)
            throw new ArgumentOutOfRangeException(nameof(options), $"--subscribers must be between 1 and {GenerateOptions.MaxSubscribers:N0}.");
        if (options.Months is < 1 or > 60)
            throw new ArgumentOutOfRangeException(nameof(options), "--months must be between 1 and 60.");
        if (options.WorkChunk < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "WorkChunk must be at least 1.");
        using (new IsdnCipher(options.IsdnKeyHex)) { } // a bad key fails here, before any work
        return new Generation(options, progress, ct);
    }

    internal static double R2(double v) => Math.Round(v, 2, MidpointRounding.AwayFromZero);

    /// Pass 1 for subscriber i, a pure function of (seed, i): its own behaviour, and its monthly ARPU
    /// in cents into cents (per month: call, SMS, data, total; 4 × months values).
    internal static Behaviour Draw(long seed, int months, int i, Span<long> cents)
    {
        var b = new Behaviour();
        var w = Math.Min(ArpuWindowMonths, months);
        var rng = new Rng(seed, i, 1);
        var u = rng.NextDouble();
        var cluster = 0;
        for (var acc = ClusterShare[0]; cluster < ClusterShare.Length - 1 && u >= acc; acc += ClusterShare[++cluster]) { }
        b.Cluster = cluster;
        var postpaid = rng.Chance(ClusterPostpaid[cluster]);
        b.Postpaid = postpaid;

        // Monthly ARPU: a level, a drift per month and noise; split into call/SMS/data in
        // whole cents so the three parts add up to the total exactly.
        var level = ClusterArpuMedian[cluster] * Math.Exp(0.45 * rng.Normal());
        var drift = Math.Clamp(ClusterMonthlyDrift[cluster] + 0.04 * rng.Normal(), -0.2, 0.2);
        var dataShare = Math.Clamp(ClusterDataShare[cluster] + 0.2 * rng.Normal(), 0.02, 0.95);
        var voiceOfRest = rng.Uniform(0.65, 0.92);
        long sumTotal = 0, sumCall = 0, sumSms = 0, minC = long.MaxValue, maxC = 0, firstC = 0, lastC = 0;
        double sumSq = 0;
        var mid = (months - 1) / 2.0;
        for (var t = 0; t < months; t++)
        {
            var total = Math.Max(500.0, level * Math.Exp(drift * (t - mid) + 0.07 * rng.Normal()));
            var totalC = (long)Math.Round(total * 100);
            var ds = Math.Clamp(dataShare + 0.05 * rng.Normal(), 0.0, 0.98);
            var dataC = (long)Math.Round(totalC * ds);
            var callC = (long)Math.Round((totalC - dataC) * voiceOfRest);
            var smsC = totalC - dataC - callC;
            cents[4 * t] = callC;
            cents[4 * t + 1] = smsC;
            cents[4 * t + 2] = dataC;
            cents[4 * t + 3] = totalC;
            if (t < months - w)
                continue;
            if (t == months - w)
                firstC = totalC;
            lastC = totalC;
            sumTotal += totalC;
            sumCall += callC;
            sumSms += smsC;
            minC = Math.Min(minC, totalC);
            maxC = Math.Max(maxC, totalC);
        }
        var avg = sumTotal / 100.0 / w;
        for (var t = months - w; t < months; t++)
        {
            var d = cents[4 * t + 3] / 100.0 - avg;
            sumSq += d * d;
        }
        b.Avg = R2(avg);
        b.Std = w > 1 ? R2(Math.Sqrt(sumSq / (w - 1))) : 0;
        b.Min = minC / 100.0;
        b.Max = maxC / 100.0;
        b.First = firstC / 100.0;
        b.Last = lastC / 100.0;
        var growth = R2((lastC - firstC) * 100.0 / firstC);
        b.Growth = growth;
        var callPct = R2(sumCall * 100.0 / sumTotal);
        var smsPct = R2(sumSms * 100.0 / sumTotal);
        b.CallPct = callPct;
        b.SmsPct = smsPct;
        b.DataPct = R2(100.0 - callPct - smsPct);

        // Top-ups: a month's top-ups cover its spend and a little more, in the usual card values.
        var spend = avg * rng.Uniform(1.0, 1.3);
        var preferred = Math.Clamp(Math.Exp(Math.Log(3.5) + 0.6 * rng.Normal()), 0.3, 15);
        var target = spend / preferred;
        var lo = 0;
        while (lo + 1 < TopupDenominations.Length && TopupDenominations[lo + 1] <= target)
            lo++;
        var hi = lo;
        while (hi + 1 < TopupDenominations.Length && TopupDenominations[hi] < target)
            hi++;
        var topupAvg = Math.Clamp(Math.Round(target / 1000) * 1000, TopupDenominations[lo], TopupDenominations[hi]);
        if (lo > 0 && rng.Chance(0.5))
            lo--;
        if (hi + 1 < TopupDenominations.Length && rng.Chance(0.4))
            hi++;
        b.TopupMin = TopupDenominations[lo];
        b.TopupMax = TopupDenominations[hi];
        b.TopupAvg = topupAvg;
        var freq = Math.Clamp(R2(spend / topupAvg), 0.1, 60);
        b.TopupFreq = freq;

        var cv = 21 + 25 * Math.Log10(Math.Max(avg, 100) / 1000) + (postpaid ? 5 : 0)
            + Math.Clamp(growth * 0.15, -8, 8) + 1.5 * Math.Min(freq, 8) + 4 * rng.Normal();
        b.Cv = R2(Math.Clamp(cv, 1, 99));

        // Keys for the global step: who is riskier, who uses data, who can carry a larger advance.
        b.RiskKey = (50 - b.Cv) / 10 + (growth <= -TrendThreshold ? 1 : 0) + (freq < TopupMedium ? 0.8 : 0)
            + 2 * (b.Std / Math.Max(avg, 1)) + 0.8 * rng.Normal();
        b.DataKey = b.DataPct / 100 + 0.15 * rng.Normal();
        b.MbfgKey = rng.NextDouble();
        b.CapacityKey = b.Cv + 8 * rng.Normal();
        return b;
    }
}

/// One subscriber's own behaviour (DatasetGenerator.Draw); values as they go into the files.
struct Behaviour
{
    public int Cluster;
    public bool Postpaid;
    public double Avg, Std, Min, Max, First, Last, Growth, CallPct, SmsPct, DataPct;
    public double TopupMin, TopupMax, TopupAvg, TopupFreq, Cv;
    public double RiskKey, DataKey, MbfgKey, CapacityKey;
}
