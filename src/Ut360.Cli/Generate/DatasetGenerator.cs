using System.Globalization;
using System.Text;
using Ut360.Data.Domain;
using Ut360.Data.Upstream;

namespace Ut360.Cli.Generate;

public sealed record GenerateOptions
{
    public const int DefaultSubscribers = 214_504;
    public const int MaxSubscribers = 20_000_000;

    public int Subscribers { get; init; } = DefaultSubscribers;
    public int Months { get; init; } = 7;
    public long Seed { get; init; } = 42;
    /// recommendation_date and profile_date; the monthly rows end with the month before it.
    public DateOnly Date { get; init; } = new(2025, 10, 22);
    public string? IsdnKeyHex { get; init; }
}

/// Counters the progress bar polls; written with Interlocked by the generator threads.
public sealed class GenerateProgress
{
    public long Subscribers;
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

public sealed record GeneratedDataset(UpstreamBatch Recommendations, UpstreamBatch Profiles, UpstreamBatch MonthlyArpu, string[] Months);

/// Generates the upstream dataset of docs/data-format.md in three parallel passes with a global
/// step after the first: pass 1 draws each subscriber's own behaviour (encrypted ISDN, cluster,
/// monthly ARPU, top-ups, customer value), the global step hands out the exact service and risk
/// counts and the advance amounts by rank, pass 2 derives what depends on them (ratio, readiness,
/// priority, revenue potential) and pass 3 composes the Vietnamese texts. Every draw comes from a
/// per-subscriber RNG, so the output does not depend on scheduling.
public static class DatasetGenerator
{
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
    static readonly long[][] DenominationShares =
    [
        [125, 130, 200, 195, 165, 160, 25],  // EasyCredit
        [60, 0, 180, 170, 250, 290, 50],     // MBFG
        [270, 220, 200, 0, 170, 140, 0],     // ungsanluong (data packages)
    ];

    static readonly int[] TopupDenominations = [10_000, 20_000, 30_000, 50_000, 100_000, 200_000, 300_000, 500_000];

    /// Real Vietnamese mobile network codes (after the 84 country code).
    static readonly string[] MobilePrefixes =
    [
        "32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98",  // Viettel
        "70", "76", "77", "78", "79", "89", "90", "93",                          // MobiFone
        "81", "82", "83", "84", "85", "88", "91", "94",                          // VinaPhone
        "52", "56", "58", "92",                                                  // Vietnamobile
    ];

    const int ChunkSize = 4096;

    public static string[] MonthsFor(DateOnly date, int months)
    {
        var last = new DateOnly(date.Year, date.Month, 1).AddMonths(-1);
        var result = new string[months];
        for (var i = 0; i < months; i++)
            result[i] = last.AddMonths(i - months + 1).ToString("yyyyMM", CultureInfo.InvariantCulture);
        return result;
    }

    /// monthlyReady gets the complete monthly_arpu rows as soon as pass 1 is done, and
    /// recommendationsReady the recommendations after pass 2, so those files can be written
    /// while the texts of pass 3 are still being composed.
    public static GeneratedDataset Generate(GenerateOptions options, GenerateProgress? progress = null, CancellationToken ct = default,
        Action<UpstreamBatch>? monthlyReady = null, Action<UpstreamBatch>? recommendationsReady = null)
    {
        var n = options.Subscribers;
        if (n is < 1 or > GenerateOptions.MaxSubscribers)
            throw new ArgumentOutOfRangeException(nameof(options), $"--subscribers must be between 1 and {GenerateOptions.MaxSubscribers:N0}.");
        if (options.Months is < 1 or > 60)
            throw new ArgumentOutOfRangeException(nameof(options), "--months must be between 1 and 60.");
        using (new IsdnCipher(options.IsdnKeyHex)) { } // a bad key fails here, before any work

        var g = new Generation(options, progress, ct);
        g.Pass1();
        monthlyReady?.Invoke(g.Monthly());
        g.AssignRisk();
        g.AssignServices();
        g.AssignAmounts();
        g.Pass2();
        recommendationsReady?.Invoke(g.Recommendations());
        g.Pass3();
        return g.Result();
    }

    /// The state of one run: columns are the output arrays themselves, filled in place.
    sealed class Generation
    {
        readonly GenerateOptions _o;
        readonly GenerateProgress? _progress;
        readonly CancellationToken _ct;
        readonly int _n, _m, _w;
        readonly string[] _months;

        // recommendations
        readonly string[] _isdn, _subscriberType, _serviceType, _risk, _trend, _userType, _freqClass;
        readonly double[] _advance, _revenue, _avg, _std, _min, _max, _growth, _callPct, _smsPct, _dataPct;
        readonly double[] _topupFreq, _topupAvg, _topupRatio, _cv, _ar, _priority;
        readonly int[] _cluster;
        readonly DateOnly[] _recDate;
        // profiles
        readonly double[] _first, _last, _topupMin, _topupMax, _riskScore, _revenuePotential;
        readonly string?[] _riskFactors, _clusterLabel, _reason, _strengths, _recText;
        readonly DateOnly[] _profileDate;
        // monthly_arpu
        readonly string[] _mIsdn, _mMonth;
        readonly double[] _mCall, _mSms, _mData, _mTotal;
        // global-step keys
        readonly double[] _riskKey, _dataKey, _mbfgKey, _capacityKey;
        readonly byte[] _riskLevel, _service;

        public Generation(GenerateOptions o, GenerateProgress? progress, CancellationToken ct)
        {
            _o = o;
            _progress = progress;
            _ct = ct;
            _n = o.Subscribers;
            _m = o.Months;
            _w = Math.Min(ArpuWindowMonths, _m);
            _months = MonthsFor(o.Date, _m);
            var n = _n;
            _isdn = new string[n]; _subscriberType = new string[n]; _serviceType = new string[n]; _risk = new string[n];
            _trend = new string[n]; _userType = new string[n]; _freqClass = new string[n];
            _advance = new double[n]; _revenue = new double[n]; _avg = new double[n]; _std = new double[n];
            _min = new double[n]; _max = new double[n]; _growth = new double[n]; _callPct = new double[n];
            _smsPct = new double[n]; _dataPct = new double[n]; _topupFreq = new double[n]; _topupAvg = new double[n];
            _topupRatio = new double[n]; _cv = new double[n]; _ar = new double[n]; _priority = new double[n];
            _cluster = new int[n];
            _recDate = new DateOnly[n];
            _first = new double[n]; _last = new double[n]; _topupMin = new double[n]; _topupMax = new double[n];
            _riskScore = new double[n]; _revenuePotential = new double[n];
            _riskFactors = new string[n]; _clusterLabel = new string[n]; _reason = new string[n];
            _strengths = new string[n]; _recText = new string[n];
            _profileDate = new DateOnly[n];
            var rows = (long)n * _m;
            _mIsdn = new string[rows]; _mMonth = new string[rows];
            _mCall = new double[rows]; _mSms = new double[rows]; _mData = new double[rows]; _mTotal = new double[rows];
            _riskKey = new double[n]; _dataKey = new double[n]; _mbfgKey = new double[n]; _capacityKey = new double[n];
            _riskLevel = new byte[n]; _service = new byte[n];
        }

        void ForChunks(Action<int, int> body)
        {
            var chunks = (_n + ChunkSize - 1) / ChunkSize;
            Parallel.For(0, chunks, new ParallelOptions { CancellationToken = _ct }, c =>
            {
                var from = c * ChunkSize;
                var to = Math.Min(_n, from + ChunkSize);
                body(from, to);
                if (_progress is not null)
                    Interlocked.Add(ref _progress.Subscribers, to - from);
            });
        }

        static double R2(double v) => Math.Round(v, 2, MidpointRounding.AwayFromZero);

        // ---- pass 1: each subscriber's own behaviour -------------------------------------------

        public void Pass1()
        {
            var affine = CreateAffine(_o.Seed);
            ForChunks((from, to) =>
            {
                using var encryptor = new IsdnBlockEncryptor(_o.IsdnKeyHex);
                Span<char> msisdn = stackalloc char[11];
                for (var i = from; i < to; i++)
                {
                    Msisdn(affine, i, msisdn);
                    var isdn = encryptor.Encrypt(msisdn);
                    _isdn[i] = isdn;
                    for (long row = (long)i * _m, end = row + _m; row < end; row++)
                        _mIsdn[row] = isdn;
                    Subscriber1(i);
                }
            });
        }

        void Subscriber1(int i)
        {
            var rng = new Rng(_o.Seed, i, 1);
            var u = rng.NextDouble();
            var cluster = 0;
            for (var acc = ClusterShare[0]; cluster < ClusterShare.Length - 1 && u >= acc; acc += ClusterShare[++cluster]) { }
            _cluster[i] = cluster;
            _clusterLabel[i] = ClusterLabels[cluster];
            var postpaid = rng.Chance(ClusterPostpaid[cluster]);
            _subscriberType[i] = postpaid ? "POS" : "PRE";
            _recDate[i] = _o.Date;
            _profileDate[i] = _o.Date;

            // Monthly ARPU: a level, a drift per month and noise; split into call/SMS/data in
            // whole cents so the three parts add up to the total exactly.
            var level = ClusterArpuMedian[cluster] * Math.Exp(0.45 * rng.Normal());
            var drift = Math.Clamp(ClusterMonthlyDrift[cluster] + 0.04 * rng.Normal(), -0.2, 0.2);
            var dataShare = Math.Clamp(ClusterDataShare[cluster] + 0.2 * rng.Normal(), 0.02, 0.95);
            var voiceOfRest = rng.Uniform(0.65, 0.92);
            long sumTotal = 0, sumCall = 0, sumSms = 0, minC = long.MaxValue, maxC = 0, firstC = 0, lastC = 0;
            double sumSq = 0;
            var mid = (_m - 1) / 2.0;
            var row = (long)i * _m;
            for (var t = 0; t < _m; t++, row++)
            {
                var total = Math.Max(500.0, level * Math.Exp(drift * (t - mid) + 0.07 * rng.Normal()));
                var totalC = (long)Math.Round(total * 100);
                var ds = Math.Clamp(dataShare + 0.05 * rng.Normal(), 0.0, 0.98);
                var dataC = (long)Math.Round(totalC * ds);
                var callC = (long)Math.Round((totalC - dataC) * voiceOfRest);
                var smsC = totalC - dataC - callC;
                _mMonth[row] = _months[t];
                _mCall[row] = callC / 100.0;
                _mSms[row] = smsC / 100.0;
                _mData[row] = dataC / 100.0;
                _mTotal[row] = totalC / 100.0;
                if (t < _m - _w)
                    continue;
                if (t == _m - _w)
                    firstC = totalC;
                lastC = totalC;
                sumTotal += totalC;
                sumCall += callC;
                sumSms += smsC;
                minC = Math.Min(minC, totalC);
                maxC = Math.Max(maxC, totalC);
            }
            var avg = sumTotal / 100.0 / _w;
            for (var t = _m - _w; t < _m; t++)
            {
                var d = _mTotal[(long)i * _m + t] - avg;
                sumSq += d * d;
            }
            _avg[i] = R2(avg);
            _std[i] = _w > 1 ? R2(Math.Sqrt(sumSq / (_w - 1))) : 0;
            _min[i] = minC / 100.0;
            _max[i] = maxC / 100.0;
            _first[i] = firstC / 100.0;
            _last[i] = lastC / 100.0;
            var growth = R2((lastC - firstC) * 100.0 / firstC);
            _growth[i] = growth;
            _trend[i] = growth >= TrendThreshold ? "Tăng trưởng" : growth <= -TrendThreshold ? "Giảm" : "Ổn định";
            var callPct = R2(sumCall * 100.0 / sumTotal);
            var smsPct = R2(sumSms * 100.0 / sumTotal);
            var dataPct = R2(100.0 - callPct - smsPct);
            _callPct[i] = callPct;
            _smsPct[i] = smsPct;
            _dataPct[i] = dataPct;
            _userType[i] = dataPct >= HeavyDataPct ? "Heavy Data User" : callPct + smsPct >= VoiceSmsPct ? "Voice/SMS User" : "Balanced";

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
            _topupMin[i] = TopupDenominations[lo];
            _topupMax[i] = TopupDenominations[hi];
            _topupAvg[i] = topupAvg;
            var freq = Math.Clamp(R2(spend / topupAvg), 0.1, 60);
            _topupFreq[i] = freq;
            _freqClass[i] = freq >= TopupHigh ? "Cao" : freq >= TopupMedium ? "Trung bình" : "Thấp";

            var cv = 21 + 25 * Math.Log10(Math.Max(avg, 100) / 1000) + (postpaid ? 5 : 0)
                + Math.Clamp(growth * 0.15, -8, 8) + 1.5 * Math.Min(freq, 8) + 4 * rng.Normal();
            _cv[i] = R2(Math.Clamp(cv, 1, 99));

            // Keys for the global step: who is riskier, who uses data, who can carry a larger advance.
            _riskKey[i] = (50 - _cv[i]) / 10 + (growth <= -TrendThreshold ? 1 : 0) + (freq < TopupMedium ? 0.8 : 0)
                + 2 * (_std[i] / Math.Max(avg, 1)) + 0.8 * rng.Normal();
            _dataKey[i] = dataPct / 100 + 0.15 * rng.Normal();
            _mbfgKey[i] = rng.NextDouble();
            _capacityKey[i] = _cv[i] + 8 * rng.Normal();
        }

        // ---- global step: exact counts by rank -------------------------------------------------

        int[] Order(double[] key, Func<int, bool>? where = null)
        {
            var idx = new List<int>(_n);
            for (var i = 0; i < _n; i++)
                if (where is null || where(i))
                    idx.Add(i);
            var items = idx.ToArray();
            var keys = new double[items.Length];
            for (var k = 0; k < items.Length; k++)
                keys[k] = key[items[k]];
            Array.Sort(keys, items);
            return items;
        }

        public void AssignRisk()
        {
            var counts = Quota.Split(_n, RiskWeights);
            var order = Order(_riskKey); // safest first
            int[] bandFrom = [0, counts[0], counts[0] + counts[1]];
            double[] lo = [3, RiskMediumFrom, RiskHighFrom];
            double[] width = [RiskMediumFrom - 3 - 0.1, RiskHighFrom - RiskMediumFrom - 0.1, 100 - RiskHighFrom];
            for (var level = 0; level < 3; level++)
            {
                for (var r = 0; r < counts[level]; r++)
                {
                    var i = order[bandFrom[level] + r];
                    _riskLevel[i] = (byte)level;
                    _risk[i] = Vocabulary.RiskLevels[level];
                    _riskScore[i] = R2(lo[level] + width[level] * (r + 0.5) / counts[level]);
                }
            }
        }

        public void AssignServices()
        {
            var counts = Quota.Split(_n, ServiceWeights);
            // ungsanluong (advance of data volume) goes to the heaviest data users, MBFG to a random
            // share of the rest, EasyCredit to everyone else.
            var byData = Order(_dataKey);
            var taken = new bool[_n];
            for (var r = 0; r < counts[2]; r++)
            {
                var i = byData[_n - 1 - r];
                _service[i] = 2;
                taken[i] = true;
            }
            var rest = Order(_mbfgKey, i => !taken[i]);
            for (var r = 0; r < rest.Length; r++)
                _service[rest[r]] = (byte)(r < counts[1] ? 1 : 0);
            for (var i = 0; i < _n; i++)
                _serviceType[i] = Vocabulary.ServiceTypes[_service[i]];
        }

        public void AssignAmounts()
        {
            // Larger advances go to subscribers who can carry them: rank by customer value less a
            // risk penalty, then hand out each service's denominations smallest first.
            var key = new double[_n];
            for (var i = 0; i < _n; i++)
                key[i] = _capacityKey[i] - 15 * _riskLevel[i];
            for (byte s = 0; s < 3; s++)
            {
                var order = Order(key, i => _service[i] == s);
                var counts = Quota.Split(order.Length, DenominationShares[s]);
                var r = 0;
                for (var d = 0; d < Denominations.Length; d++)
                {
                    for (var k = 0; k < counts[d]; k++, r++)
                    {
                        var i = order[r];
                        _advance[i] = Denominations[d];
                        _revenue[i] = R2(Denominations[d] * RevenueRate);
                    }
                }
            }
        }

        // ---- passes 2 and 3: what depends on the global step---------------------------------------

        public void Pass2() => ForChunks((from, to) =>
        {
            for (var i = from; i < to; i++)
                Subscriber2(i);
        });

        public void Pass3() => ForChunks((from, to) =>
        {
            var sb = new StringBuilder(1024);
            for (var i = from; i < to; i++)
            {
                _riskFactors[i] = RiskFactors(i, sb);
                _reason[i] = Reason(i, sb);
                _strengths[i] = Strengths(i, sb);
                _recText[i] = RecommendationsText(i, (decimal)_priority[i], sb);
            }
        });

        void Subscriber2(int i)
        {
            var rng = new Rng(_o.Seed, i, 2);
            var amount = _advance[i];
            var ratio = Math.Round(_topupAvg[i] / amount, 4, MidpointRounding.AwayFromZero);
            _topupRatio[i] = ratio;
            var ar = 51 + 5 * Math.Min(_topupFreq[i], 6) + 8 * Math.Min(ratio, 2.5) - 12 * _riskLevel[i]
                + (_trend[i] == "Tăng trưởng" ? 5 : _trend[i] == "Giảm" ? -5 : 0) + 5 * rng.Normal();
            ar = R2(Math.Clamp(ar, 1, 99));
            _ar[i] = ar;
            var priority = Priority.Score((decimal)_cv[i], (decimal)ar);
            _priority[i] = (double)priority;
            _revenuePotential[i] = R2(_revenue[i] * ar / 100);
        }

        // ---- texts -----------------------------------------------------------------------------

        static string RiskWord(byte level) => level switch { 0 => "thấp", 1 => "trung bình", _ => "cao" };

        static string Lower(string label) => label switch
        {
            "Tăng trưởng" => "tăng trưởng",
            "Ổn định" => "ổn định",
            "Giảm" => "giảm",
            "Cao" => "cao",
            "Trung bình" => "trung bình",
            "Thấp" => "thấp",
            _ => label,
        };

        string Reason(int i, StringBuilder sb)
        {
            sb.Clear();
            var label = ClusterLabels[_cluster[i]];
            sb.Append("Thuộc nhóm ").Append(label, 0, label.IndexOf(" (", StringComparison.Ordinal))
                .Append(": ARPU trung bình ").Append(_w).Append(" tháng ").Vnd(_avg[i])
                .Append(", xu hướng ").Append(Lower(_trend[i])).Append(" (").Append(_growth[i] > 0 ? "+" : "").Dec1(_growth[i]).Append("%)")
                .Append(", nạp tiền ").Dec2(_topupFreq[i]).Append(" lần/tháng (tần suất ").Append(Lower(_freqClass[i])).Append(')')
                .Append(", rủi ro nợ xấu ").Append(RiskWord(_riskLevel[i]))
                .Append("; phù hợp ứng ").Append(_serviceType[i]).Append(' ').Vnd(_advance[i]).Append('.');
            return sb.ToString();
        }

        string RiskFactors(int i, StringBuilder sb)
        {
            // LOW lists no factor below risk score 20 and at most one above, MEDIUM one to three,
            // HIGH two to four: the list explains the level, and the model's score band fills in
            // when no single signal does.
            var level = _riskLevel[i];
            var cap = level == 0 ? (_riskScore[i] < LowRiskQuiet ? 0 : 1) : level == 1 ? 3 : 4;
            sb.Clear().Append('[');
            var count = 0;
            if (count < cap && _growth[i] <= -TrendThreshold && ++count > 0)
                sb.Item().Append("ARPU giảm ").Dec1(-_growth[i]).Append("% trong ").Append(_w).Append(" tháng gần nhất").EndItem();
            if (count < cap && _topupFreq[i] < TopupMedium && ++count > 0)
                sb.Item().Append("Tần suất nạp tiền thấp (").Dec2(_topupFreq[i]).Append(" lần/tháng)").EndItem();
            if (count < cap && _topupRatio[i] < 0.5 && ++count > 0)
                sb.Item().Append("Khoản ứng ").Vnd(_advance[i]).Append(" gấp ").Dec1(1 / _topupRatio[i]).Append(" lần số tiền nạp trung bình (").Vnd(_topupAvg[i]).Append(')').EndItem();
            if (count < cap && _std[i] >= 0.3 * _avg[i] && ++count > 0)
                sb.Item().Append("ARPU biến động mạnh (độ lệch chuẩn ").Vnd(_std[i]).Append(" so với trung bình ").Vnd(_avg[i]).Append(')').EndItem();
            if (count < cap && _avg[i] < 10_000 && ++count > 0)
                sb.Item().Append("ARPU trung bình thấp (").Vnd(_avg[i]).Append("/tháng)").EndItem();
            if (level > 0 && count < (level == 1 ? 1 : 2))
                sb.Item().Append("Điểm rủi ro ").Dec2(_riskScore[i]).Append("/100 thuộc nhóm rủi ro ").Append(RiskWord(level)).EndItem();
            return sb.Append(']').ToString();
        }

        string Strengths(int i, StringBuilder sb)
        {
            sb.Clear().Append('[');
            var count = 0;
            const int cap = 4;
            if (count < cap && _cv[i] >= 70 && ++count > 0)
                sb.Item().Append("Giá trị khách hàng cao (điểm ").Dec2(_cv[i]).Append("/100)").EndItem();
            if (count < cap && _avg[i] >= 50_000 && ++count > 0)
                sb.Item().Append("ARPU trung bình cao: ").Vnd(_avg[i]).Append("/tháng").EndItem();
            if (count < cap && _growth[i] >= TrendThreshold && ++count > 0)
                sb.Item().Append("ARPU tăng ").Dec1(_growth[i]).Append("% trong ").Append(_w).Append(" tháng gần nhất").EndItem();
            if (count < cap && _trend[i] == "Ổn định" && _std[i] < 0.2 * _avg[i] && ++count > 0)
                sb.Item().Append("Chi tiêu ổn định, ARPU dao động trong khoảng ").Vnd(_min[i]).Append(" – ").Vnd(_max[i]).EndItem();
            if (count < cap && _topupFreq[i] >= TopupHigh && ++count > 0)
                sb.Item().Append("Nạp tiền thường xuyên: ").Dec2(_topupFreq[i]).Append(" lần/tháng, trung bình ").Vnd(_topupAvg[i]).Append("/lần").EndItem();
            if (count < cap && _topupRatio[i] >= 1 && ++count > 0)
                sb.Item().Append("Mỗi lần nạp trung bình (").Vnd(_topupAvg[i]).Append(") đủ hoàn trả khoản ứng ").Vnd(_advance[i]).EndItem();
            if (count < cap && _riskLevel[i] == 0 && _riskScore[i] < LowRiskQuiet && ++count > 0)
                sb.Item().Append("Rủi ro nợ xấu rất thấp (điểm rủi ro ").Dec2(_riskScore[i]).Append("/100)").EndItem();
            if (count < cap && _dataPct[i] >= HeavyDataPct && ++count > 0)
                sb.Item().Append("Sử dụng data nhiều (").Dec1(_dataPct[i]).Append("% doanh thu), phù hợp gói ứng data").EndItem();
            if (count < cap && _subscriberType[i] == "POS" && ++count > 0)
                sb.Item().Append("Thuê bao trả sau, có lịch sử thanh toán hàng tháng").EndItem();
            if (count == 0)
                sb.Item().Append("Phát sinh doanh thu đều đặn trong ").Append(_m).Append(" tháng liên tiếp").EndItem();
            return sb.Append(']').ToString();
        }

        string RecommendationsText(int i, decimal priority, StringBuilder sb)
        {
            sb.Clear().Append('[').Item();
            switch (_service[i])
            {
                case 0:
                    sb.Append("Mời ứng tiền EasyCredit ").Vnd(_advance[i]).Append(" khi số dư tài khoản chính dưới 5.000₫");
                    break;
                case 1:
                    sb.Append("Giới thiệu gói ứng MBFG ").Vnd(_advance[i]).Append(" kèm ưu đãi cho lần nạp tiền kế tiếp");
                    break;
                default:
                    sb.Append("Gợi ý ứng gói data ").Vnd(_advance[i]).Append(" khi dung lượng data sắp hết");
                    break;
            }
            sb.Append(" (doanh thu dự kiến ").Vnd(_revenue[i]).Append("/lần ứng)").EndItem();

            sb.Item();
            switch (Priority.Label(priority))
            {
                case "HIGH":
                    sb.Append("Ưu tiên cao (điểm ưu tiên ").Dec2((double)priority).Append("): đưa vào chiến dịch tuần này");
                    break;
                case "MEDIUM":
                    sb.Append("Ưu tiên trung bình (điểm ưu tiên ").Dec2((double)priority).Append("): gửi ưu đãi qua SMS");
                    break;
                default:
                    sb.Append("Ưu tiên thấp (điểm ưu tiên ").Dec2((double)priority).Append("): chỉ gợi ý khi khách hàng có nhu cầu");
                    break;
            }
            sb.EndItem();

            sb.Item();
            if (_riskLevel[i] > 0)
                sb.Append("Theo dõi hoàn trả, không cấp khoản ứng vượt ").Vnd(_advance[i]);
            else if (_growth[i] <= -TrendThreshold)
                sb.Append("ARPU giảm ").Dec1(-_growth[i]).Append("%: áp dụng ưu đãi giữ chân khách hàng");
            else if (_topupFreq[i] < TopupMedium)
                sb.Append("Khuyến khích nạp tiền định kỳ qua ngân hàng hoặc ví điện tử");
            else
                sb.Append("Có thể nâng hạn mức ứng ở lần sau nếu hoàn trả đúng hạn");
            return sb.EndItem().Append(']').ToString();
        }

        // ---- ISDNs -----------------------------------------------------------------------------

        /// i → (a·i + b) mod P·10⁷ with a coprime to the modulus is a bijection: every subscriber
        /// gets a distinct number "84" + network code + 7 digits, spread over all the codes.
        readonly record struct Affine(long A, long B);

        static readonly long Space = MobilePrefixes.Length * 10_000_000L;

        static Affine CreateAffine(long seed)
        {
            var rng = new Rng(seed, -1, 3);
            var a = (long)(rng.NextUInt64() % (ulong)Space);
            while (Gcd(a, Space) != 1)
                a++;
            return new Affine(a, (long)(rng.NextUInt64() % (ulong)Space));
        }

        static long Gcd(long x, long y)
        {
            while (y != 0)
                (x, y) = (y, x % y);
            return x;
        }

        static void Msisdn(Affine f, int i, Span<char> dest)
        {
            var x = (f.A * i + f.B) % Space; // < 2^63: A < Space ≈ 3.2·10⁸, i ≤ 2·10⁷
            var prefix = MobilePrefixes[x / 10_000_000];
            var rest = x % 10_000_000;
            dest[0] = '8';
            dest[1] = '4';
            dest[2] = prefix[0];
            dest[3] = prefix[1];
            for (var k = 10; k >= 4; k--, rest /= 10)
                dest[k] = (char)('0' + rest % 10);
        }

        public GeneratedDataset Result()
        {
            var prof = new UpstreamBatch(UpstreamFormat.Profiles, _n)
                .Set("isdn", _isdn).Set("arpu_first_month", _first).Set("arpu_last_month", _last)
                .Set("topup_min_amount", _topupMin).Set("topup_max_amount", _topupMax).Set("risk_score", _riskScore)
                .Set("risk_factors", _riskFactors!).Set("revenue_potential", _revenuePotential).Set("cluster_label", _clusterLabel!)
                .Set("classification_reason", _reason!).Set("strengths", _strengths!).Set("recommendations_text", _recText!)
                .Set("profile_date", _profileDate);
            return new GeneratedDataset(Recommendations(), prof, Monthly(), _months);
        }

        UpstreamBatch? _recommendations, _monthly;

        public UpstreamBatch Recommendations() => _recommendations ??= new UpstreamBatch(UpstreamFormat.Recommendations, _n)
                .Set("isdn", _isdn).Set("subscriber_type", _subscriberType).Set("service_type", _serviceType)
                .Set("advance_amount", _advance).Set("revenue_per_advance", _revenue).Set("cluster_group", _cluster)
                .Set("bad_debt_risk", _risk).Set("arpu_avg_6m", _avg).Set("arpu_std_6m", _std).Set("arpu_min_6m", _min)
                .Set("arpu_max_6m", _max).Set("arpu_growth_rate", _growth).Set("arpu_trend", _trend)
                .Set("revenue_call_pct", _callPct).Set("revenue_sms_pct", _smsPct).Set("revenue_data_pct", _dataPct)
                .Set("user_type", _userType).Set("topup_frequency", _topupFreq).Set("topup_avg_amount", _topupAvg)
                .Set("topup_advance_ratio", _topupRatio).Set("topup_frequency_class", _freqClass)
                .Set("customer_value_score", _cv).Set("advance_readiness_score", _ar).Set("priority_score", _priority)
                .Set("recommendation_date", _recDate);

        public UpstreamBatch Monthly() => _monthly ??= new UpstreamBatch(UpstreamFormat.MonthlyArpu, checked((int)((long)_n * _m)))
            .Set("isdn", _mIsdn).Set("data_month", _mMonth).Set("arpu_call", _mCall).Set("arpu_sms", _mSms)
            .Set("arpu_data", _mData).Set("arpu_total", _mTotal);
    }
}
