using System.Globalization;
using System.Text;
using Ut360.Data.Domain;
using Ut360.Data.Upstream;
using static Ut360.Cli.Generate.DatasetGenerator;

namespace Ut360.Cli.Generate;

/// One run after its global step: generates any range of subscribers, in parallel, from (seed, index)
/// and the ranks alone. Thread-safe; ranges may be generated in any order.
public sealed class Generation
{
    readonly GenerateOptions _o;
    readonly int _m;
    readonly Affine _affine;
    readonly Ranking _ranking;

    internal Generation(GenerateOptions options, GenerateProgress? progress, CancellationToken ct)
    {
        _o = options;
        _m = options.Months;
        Months = DatasetGenerator.MonthsFor(options.Date, options.Months);
        _affine = CreateAffine(options.Seed);
        _ranking = Ranking.Compute(options.Subscribers, DrawBehaviour, body => ForChunks(0, options.Subscribers, body, ct, progress));
    }

    public GenerateOptions Options => _o;

    /// data_month of the monthly rows, oldest first.
    public string[] Months { get; }

    Behaviour DrawBehaviour(int i)
    {
        Span<long> cents = stackalloc long[4 * _m];
        return DatasetGenerator.Draw(_o.Seed, _m, i, cents);
    }

    void ForChunks(int from, int to, Action<int, int> body, CancellationToken ct, GenerateProgress? progress = null)
    {
        var size = _o.WorkChunk;
        var chunks = (int)(((long)to - from + size - 1) / size);
        Parallel.For(0, chunks, new ParallelOptions { CancellationToken = ct }, c =>
        {
            var start = from + c * size;
            var end = (int)Math.Min(to, (long)start + size);
            body(start, end);
            if (progress is not null)
                Interlocked.Add(ref progress.Ranked, end - start);
        });
    }

    /// The rows of subscribers [from, from + count).
    /// <exception cref="ArgumentOutOfRangeException">The range is not within 0 … Subscribers.</exception>
    public GeneratedDataset Generate(int from, int count, CancellationToken ct = default)
    {
        if (from < 0 || count < 1 || (long)from + count > _o.Subscribers)
            throw new ArgumentOutOfRangeException(nameof(count), $"[{from}, {from} + {count}) is not within the {_o.Subscribers} subscribers.");
        var block = new Block(this, from, count);
        ForChunks(from, from + count, (start, end) =>
        {
            using var encryptor = new IsdnBlockEncryptor(_o.IsdnKeyHex);
            var sb = new StringBuilder(1024);
            Span<char> msisdn = stackalloc char[11];
            Span<long> cents = stackalloc long[4 * _m];
            for (var i = start; i < end; i++)
            {
                Msisdn(_affine, i, msisdn);
                var isdn = i == 0 && DesignExampleFirst ? DatasetGenerator.DesignExampleIsdn : encryptor.Encrypt(msisdn);
                block.Fill(i, isdn, cents, sb);
            }
        }, ct);
        return block.ToDataset();
    }

    // With the demo key the first subscriber carries the design document's example ISDN, so the
    // document's redis-cli and SQL examples run verbatim against the default dataset. It is
    // not the encryption of any number (no phone lookup finds it); every other ISDN is.
    bool DesignExampleFirst => string.IsNullOrWhiteSpace(_o.IsdnKeyHex)
        || string.Equals(_o.IsdnKeyHex, IsdnCipher.DemoKeyHex, StringComparison.OrdinalIgnoreCase);

    /// The columns of one range of subscribers, filled in place; row k is subscriber from + k.
    sealed class Block
    {
        readonly Generation _g;
        readonly int _from, _n, _m, _w;

        // recommendations
        readonly string[] _isdn, _subscriberType, _serviceType, _risk, _trend, _userType, _freqClass;
        readonly double[] _advance, _revenue, _avg, _std, _min, _max, _growth, _callPct, _smsPct, _dataPct;
        readonly double[] _topupFreq, _topupAvg, _topupRatio, _cv, _ar, _priority;
        readonly int[] _cluster;
        readonly DateOnly[] _recDate;
        // profiles
        readonly double[] _first, _last, _topupMin, _topupMax, _riskScore, _revenuePotential;
        readonly string[] _riskFactors, _clusterLabel, _reason, _strengths, _recText;
        readonly DateOnly[] _profileDate;
        // monthly_arpu
        readonly string[] _mIsdn, _mMonth;
        readonly double[] _mCall, _mSms, _mData, _mTotal;
        // ranks
        readonly byte[] _riskLevel, _service;

        public Block(Generation g, int from, int n)
        {
            _g = g;
            _from = from;
            _n = n;
            _m = g._m;
            _w = Math.Min(DatasetGenerator.ArpuWindowMonths, _m);
            _isdn = new string[n]; _subscriberType = new string[n]; _serviceType = new string[n]; _risk = new string[n];
            _trend = new string[n]; _userType = new string[n]; _freqClass = new string[n];
            _advance = new double[n]; _revenue = new double[n]; _avg = new double[n]; _std = new double[n];
            _min = new double[n]; _max = new double[n]; _growth = new double[n]; _callPct = new double[n];
            _smsPct = new double[n]; _dataPct = new double[n]; _topupFreq = new double[n]; _topupAvg = new double[n];
            _topupRatio = new double[n]; _cv = new double[n]; _ar = new double[n]; _priority = new double[n];
            _cluster = new int[n];
            _recDate = new DateOnly[n];
            Array.Fill(_recDate, g._o.Date);
            _first = new double[n]; _last = new double[n]; _topupMin = new double[n]; _topupMax = new double[n];
            _riskScore = new double[n]; _revenuePotential = new double[n];
            _riskFactors = new string[n]; _clusterLabel = new string[n]; _reason = new string[n];
            _strengths = new string[n]; _recText = new string[n];
            _profileDate = new DateOnly[n];
            Array.Fill(_profileDate, g._o.Date);
            var rows = checked(n * _m);
            _mIsdn = new string[rows]; _mMonth = new string[rows];
            _mCall = new double[rows]; _mSms = new double[rows]; _mData = new double[rows]; _mTotal = new double[rows];
            _riskLevel = new byte[n]; _service = new byte[n];
        }

        /// Every column of subscriber i: its behaviour again (pass 1), its ranks, pass 2 and the texts.
        public void Fill(int i, string isdn, Span<long> cents, StringBuilder sb)
        {
            var k = i - _from;
            var b = DatasetGenerator.Draw(_g._o.Seed, _m, i, cents);
            _isdn[k] = isdn;
            for (int t = 0, row = k * _m; t < _m; t++, row++)
            {
                _mIsdn[row] = isdn;
                _mMonth[row] = _g.Months[t];
                _mCall[row] = cents[4 * t] / 100.0;
                _mSms[row] = cents[4 * t + 1] / 100.0;
                _mData[row] = cents[4 * t + 2] / 100.0;
                _mTotal[row] = cents[4 * t + 3] / 100.0;
            }
            _cluster[k] = b.Cluster;
            _clusterLabel[k] = DatasetGenerator.ClusterLabels[b.Cluster];
            _subscriberType[k] = b.Postpaid ? "POS" : "PRE";
            _avg[k] = b.Avg;
            _std[k] = b.Std;
            _min[k] = b.Min;
            _max[k] = b.Max;
            _first[k] = b.First;
            _last[k] = b.Last;
            _growth[k] = b.Growth;
            _trend[k] = b.Growth >= DatasetGenerator.TrendThreshold ? "Tăng trưởng" : b.Growth <= -DatasetGenerator.TrendThreshold ? "Giảm" : "Ổn định";
            _callPct[k] = b.CallPct;
            _smsPct[k] = b.SmsPct;
            _dataPct[k] = b.DataPct;
            _userType[k] = b.DataPct >= DatasetGenerator.HeavyDataPct ? "Heavy Data User"
                : b.CallPct + b.SmsPct >= DatasetGenerator.VoiceSmsPct ? "Voice/SMS User" : "Balanced";
            _topupMin[k] = b.TopupMin;
            _topupMax[k] = b.TopupMax;
            _topupAvg[k] = b.TopupAvg;
            _topupFreq[k] = b.TopupFreq;
            _freqClass[k] = b.TopupFreq >= DatasetGenerator.TopupHigh ? "Cao" : b.TopupFreq >= DatasetGenerator.TopupMedium ? "Trung bình" : "Thấp";
            _cv[k] = b.Cv;

            var ranking = _g._ranking;
            var level = ranking.RiskLevel(b, i);
            _riskLevel[k] = level;
            _risk[k] = Vocabulary.RiskLevels[level];
            _riskScore[k] = ranking.RiskScore(b, level);
            var service = ranking.Service(b, i);
            _service[k] = service;
            _serviceType[k] = Vocabulary.ServiceTypes[service];
            var amount = DatasetGenerator.Denominations[ranking.Denomination(b, i, level, service)];
            _advance[k] = amount;
            _revenue[k] = DatasetGenerator.R2(amount * DatasetGenerator.RevenueRate);

            Pass2(i, k);
            _riskFactors[k] = RiskFactors(k, sb);
            _reason[k] = Reason(k, sb);
            _strengths[k] = Strengths(k, sb);
            _recText[k] = RecommendationsText(k, (decimal)_priority[k], sb);
        }

        /// What depends on the ranks: top-up ratio, readiness, priority, revenue potential.
        void Pass2(int i, int k)
        {
            var rng = new Rng(_g._o.Seed, i, 2);
            var amount = _advance[k];
            var ratio = Math.Round(_topupAvg[k] / amount, 4, MidpointRounding.AwayFromZero);
            _topupRatio[k] = ratio;
            var ar = 51 + 5 * Math.Min(_topupFreq[k], 6) + 8 * Math.Min(ratio, 2.5) - 12 * _riskLevel[k]
                + (_trend[k] == "Tăng trưởng" ? 5 : _trend[k] == "Giảm" ? -5 : 0) + 5 * rng.Normal();
            ar = DatasetGenerator.R2(Math.Clamp(ar, 1, 99));
            _ar[k] = ar;
            var priority = Priority.Score((decimal)_cv[k], (decimal)ar);
            _priority[k] = (double)priority;
            _revenuePotential[k] = DatasetGenerator.R2(_revenue[k] * ar / 100);
        }

        public GeneratedDataset ToDataset()
        {
            var recommendations = new UpstreamBatch(UpstreamFormat.Recommendations, _n)
                .Set("isdn", _isdn).Set("subscriber_type", _subscriberType).Set("service_type", _serviceType)
                .Set("advance_amount", _advance).Set("revenue_per_advance", _revenue).Set("cluster_group", _cluster)
                .Set("bad_debt_risk", _risk).Set("arpu_avg_6m", _avg).Set("arpu_std_6m", _std).Set("arpu_min_6m", _min)
                .Set("arpu_max_6m", _max).Set("arpu_growth_rate", _growth).Set("arpu_trend", _trend)
                .Set("revenue_call_pct", _callPct).Set("revenue_sms_pct", _smsPct).Set("revenue_data_pct", _dataPct)
                .Set("user_type", _userType).Set("topup_frequency", _topupFreq).Set("topup_avg_amount", _topupAvg)
                .Set("topup_advance_ratio", _topupRatio).Set("topup_frequency_class", _freqClass)
                .Set("customer_value_score", _cv).Set("advance_readiness_score", _ar).Set("priority_score", _priority)
                .Set("recommendation_date", _recDate);
            var profiles = new UpstreamBatch(UpstreamFormat.Profiles, _n)
                .Set("isdn", _isdn).Set("arpu_first_month", _first).Set("arpu_last_month", _last)
                .Set("topup_min_amount", _topupMin).Set("topup_max_amount", _topupMax).Set("risk_score", _riskScore)
                .Set("risk_factors", _riskFactors).Set("revenue_potential", _revenuePotential).Set("cluster_label", _clusterLabel)
                .Set("classification_reason", _reason).Set("strengths", _strengths).Set("recommendations_text", _recText)
                .Set("profile_date", _profileDate);
            var monthly = new UpstreamBatch(UpstreamFormat.MonthlyArpu, _n * _m)
                .Set("isdn", _mIsdn).Set("data_month", _mMonth).Set("arpu_call", _mCall).Set("arpu_sms", _mSms)
                .Set("arpu_data", _mData).Set("arpu_total", _mTotal);
            return new GeneratedDataset(recommendations, profiles, monthly, _g.Months);
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

}
