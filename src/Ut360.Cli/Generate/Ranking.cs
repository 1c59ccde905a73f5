namespace Ut360.Cli.Generate;

/// The generator's global step in bounded memory: who is MEDIUM risk, who gets which service and
/// which denomination, decided by exact rank without holding a key per subscriber. Every key is
/// recomputed from (seed, index) in each pass. Each threshold is found by collecting only the keys
/// near it and sorting those few: near it by a sample (BySample, one pass) or, should the sample
/// mislead, by a fixed-size histogram (ByHistograms, four passes). Ties are broken by subscriber
/// index, so the result does not depend on how the passes are split across threads.
sealed partial class Ranking
{
    // Fixed key ranges, wide enough for every draw of DatasetGenerator.Draw (a key outside lands in an
    // end bin, which only makes that bin's collection larger, never a threshold wrong).
    const double RiskKeyMin = -12, RiskKeyMax = 16;
    const double DataKeyMin = -1.5, DataKeyMax = 2.5;
    const double AmountKeyMin = -100, AmountKeyMax = 160;

    readonly KeyHistogram _riskHistogram;
    readonly int[] _riskCounts;
    readonly int[] _riskFrom;
    readonly Cut[] _riskCuts;       // below [0] → LOW, below [1] → MEDIUM, else HIGH
    readonly Cut _dataCut;          // not below → ungsanluong
    readonly Cut _mbfgCut;          // of the rest, below → MBFG, else EasyCredit
    readonly Cut[][] _amountCuts;   // per service: below [d] and not below [d − 1] → Denominations[d]

    Ranking(KeyHistogram riskHistogram, int[] riskCounts, Cut[] riskCuts, Cut dataCut, Cut mbfgCut, Cut[][] amountCuts)
    {
        _riskHistogram = riskHistogram;
        _riskCounts = riskCounts;
        _riskFrom = [0, riskCounts[0], riskCounts[0] + riskCounts[1]];
        _riskCuts = riskCuts;
        _dataCut = dataCut;
        _mbfgCut = mbfgCut;
        _amountCuts = amountCuts;
    }

    /// Every SampleStride-th subscriber makes the sample that places the thresholds' windows.
    const int SampleStride = 16;

    /// The thresholds by rank, in one pass over all subscribers when the sample's windows hold them
    /// (they do but for a chance of about one in a million per threshold), else in four (ByHistograms);
    /// the result is the same either way. draw gives subscriber i's behaviour, forChunks runs a body over
    /// every range of subscribers in parallel.
    public static Ranking Compute(int n, Func<int, Behaviour> draw, Action<Action<int, int>> forChunks) =>
        BySample(n, draw, forChunks) ?? ByHistograms(n, draw, forChunks);

    /// Four passes, each locating the next thresholds with a histogram and then collecting their bins.
    internal static Ranking ByHistograms(int n, Func<int, Behaviour> draw, Action<Action<int, int>> forChunks)
    {
        // Pass 1: where the risk and data thresholds lie.
        var riskHistogram = new KeyHistogram(RiskKeyMin, RiskKeyMax);
        var dataHistogram = new KeyHistogram(DataKeyMin, DataKeyMax);
        forChunks((from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                var b = draw(i);
                riskHistogram.Add(b.RiskKey);
                dataHistogram.Add(b.DataKey);
            }
        });
        riskHistogram.Complete();
        dataHistogram.Complete();

        // Pass 2: the exact risk and data thresholds; MBFG is drawn from those certainly not taken by
        // ungsanluong, and the undecided few (the data threshold's bin) are added once it is known.
        var riskCounts = Quota.Split(n, DatasetGenerator.RiskWeights);
        var services = Quota.Split(n, DatasetGenerator.ServiceWeights);
        Selection[] riskSelections = [new(riskHistogram, riskCounts[0]), new(riskHistogram, riskCounts[0] + riskCounts[1])];
        var dataSelection = new Selection(dataHistogram, n - services[2]);
        var mbfgHistogram = new KeyHistogram(0, 1);
        forChunks((from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                var b = draw(i);
                foreach (var s in riskSelections)
                    s.Offer(b.RiskKey, i, 0);
                var bin = dataHistogram.Bin(b.DataKey);
                if (bin < dataSelection.Bin)
                    mbfgHistogram.Add(b.MbfgKey);
                else if (bin == dataSelection.Bin)
                    dataSelection.Offer(b.DataKey, i, b.MbfgKey);
            }
        });
        Cut[] riskCuts = [riskSelections[0].Resolve(), riskSelections[1].Resolve()];
        var dataCut = dataSelection.Resolve();
        foreach (var (key, i, mbfgKey) in dataSelection.Found)
            if (dataCut.Below(key, i))
                mbfgHistogram.Add(mbfgKey);
        mbfgHistogram.Complete();

        // Pass 3: the exact MBFG threshold; each service's amount keys, the undecided few (the MBFG
        // threshold's bin) added once it is known.
        var mbfgSelection = new Selection(mbfgHistogram, services[1]);
        var amountHistograms = new KeyHistogram[3];
        for (var s = 0; s < 3; s++)
            amountHistograms[s] = new KeyHistogram(AmountKeyMin, AmountKeyMax);
        forChunks((from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                var b = draw(i);
                var amountKey = AmountKey(b, RiskLevel(riskCuts, b.RiskKey, i));
                if (!dataCut.Below(b.DataKey, i))
                {
                    amountHistograms[2].Add(amountKey);
                    continue;
                }
                var bin = mbfgHistogram.Bin(b.MbfgKey);
                if (bin == mbfgSelection.Bin)
                    mbfgSelection.Offer(b.MbfgKey, i, amountKey);
                else
                    amountHistograms[bin < mbfgSelection.Bin ? 1 : 0].Add(amountKey);
            }
        });
        var mbfgCut = mbfgSelection.Resolve();
        foreach (var (key, i, amountKey) in mbfgSelection.Found)
            amountHistograms[mbfgCut.Below(key, i) ? 1 : 0].Add(amountKey);

        // Pass 4: each service's denomination thresholds, at the cumulative counts of its shares.
        var amountSelections = new Selection[3][];
        for (var s = 0; s < 3; s++)
        {
            amountHistograms[s].Complete();
            var counts = Quota.Split(services[s], DatasetGenerator.DenominationShares[s]);
            amountSelections[s] = new Selection[counts.Length - 1];
            var cumulative = 0;
            for (var d = 0; d < counts.Length - 1; d++)
            {
                cumulative += counts[d];
                amountSelections[s][d] = new Selection(amountHistograms[s], cumulative);
            }
        }
        forChunks((from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                var b = draw(i);
                var amountKey = AmountKey(b, RiskLevel(riskCuts, b.RiskKey, i));
                var service = Service(dataCut, mbfgCut, b, i);
                foreach (var s in amountSelections[service])
                    s.Offer(amountKey, i, 0);
            }
        });
        var amountCuts = amountSelections.Select(ss => ss.Select(s => s.Resolve()).ToArray()).ToArray();
        return new Ranking(riskHistogram, riskCounts, riskCuts, dataCut, mbfgCut, amountCuts);
    }

    /// One pass when the thresholds lie where a sample of the subscribers puts them: the sample places
    /// a window of keys around each threshold, wide enough to hold it but for a chance of about one in
    /// a million; the pass counts who lies below each window and collects who lies in it, and a
    /// threshold is exact when its rank falls among those collected. Who is in a window of the risk,
    /// data or MBFG thresholds has a level or service that waits on them, so their keys are kept until
    /// the thresholds are known. Null when a window misses its threshold.
    internal static Ranking? BySample(int n, Func<int, Behaviour> draw, Action<Action<int, int>> forChunks)
    {
        var riskCounts = Quota.Split(n, DatasetGenerator.RiskWeights);
        var services = Quota.Split(n, DatasetGenerator.ServiceWeights);

        // The sample: its keys and, by the sample's own ranks, each member's likely level and service.
        var m = (n + SampleStride - 1) / SampleStride;
        var sample = new (double Risk, double Data, double Mbfg, double Capacity)[m];
        Parallel.For(0, (m + 1023) / 1024, c =>
        {
            for (int j = c * 1024, end = Math.Min(m, j + 1024); j < end; j++)
            {
                var b = draw(j * SampleStride);
                sample[j] = (b.RiskKey, b.DataKey, b.MbfgKey, b.CapacityKey);
            }
        });
        var riskSample = sample.Select(x => x.Risk).Order().ToArray();
        var dataSample = sample.Select(x => x.Data).Order().ToArray();
        long[] riskRanks = [riskCounts[0], riskCounts[0] + riskCounts[1]];
        var windows = new List<Window>();
        Window Around(double[] sorted, long rank, long population)
        {
            var window = Window.Around(windows.Count, sorted, rank, population);
            windows.Add(window);
            return window;
        }
        Window[] risk = [Around(riskSample, riskRanks[0], n), Around(riskSample, riskRanks[1], n)];
        var data = Around(dataSample, n - services[2], n);
        double KeyAt(double[] sorted, long rank, long population) =>
            rank >= population || sorted.Length == 0 ? double.PositiveInfinity : sorted[(int)((double)rank / population * sorted.Length)];
        double[] riskKeyAt = [KeyAt(riskSample, riskRanks[0], n), KeyAt(riskSample, riskRanks[1], n)];
        var dataKeyAt = KeyAt(dataSample, n - services[2], n);
        var restSample = sample.Where(x => x.Data < dataKeyAt).Select(x => x.Mbfg).Order().ToArray();
        var mbfg = Around(restSample, services[1], n - services[2]);
        var mbfgKeyAt = KeyAt(restSample, services[1], n - services[2]);
        var amountSamples = new List<double>[] { [], [], [] };
        foreach (var x in sample)
        {
            var level = x.Risk < riskKeyAt[0] ? 0 : x.Risk < riskKeyAt[1] ? 1 : 2;
            var service = x.Data >= dataKeyAt ? 2 : x.Mbfg < mbfgKeyAt ? 1 : 0;
            amountSamples[service].Add(x.Capacity - 15 * level);
        }
        var amount = new Window[3][];
        for (var s = 0; s < 3; s++)
        {
            var sorted = amountSamples[s].Order().ToArray();
            var counts = Quota.Split(services[s], DatasetGenerator.DenominationShares[s]);
            amount[s] = new Window[counts.Length - 1];
            var cumulative = 0;
            for (var d = 0; d < counts.Length - 1; d++)
            {
                cumulative += counts[d];
                amount[s][d] = Around(sorted, cumulative, services[s]);
            }
        }

        // The pass. Who is in a risk window waits for its level; in the data window, for its service;
        // in the MBFG window, for MBFG or EasyCredit.
        var riskHistogram = new KeyHistogram(RiskKeyMin, RiskKeyMax);
        var waiting = new List<Waiting>();
        forChunks((from, to) =>
        {
            var mine = new List<Waiting>();
            var below = new long[windows.Count];
            for (var i = from; i < to; i++)
            {
                var b = draw(i);
                riskHistogram.Add(b.RiskKey);
                var r0 = risk[0].Offer(b.RiskKey, i, below);
                var r1 = risk[1].Offer(b.RiskKey, i, below);
                var d = data.Offer(b.DataKey, i, below);
                if (d == 0)
                {
                    mine.Add(new Waiting(b, i, MbfgOffered: false));
                    continue;
                }
                byte service = 2;
                if (d < 0)
                {
                    var mb = mbfg.Offer(b.MbfgKey, i, below);
                    if (mb == 0)
                    {
                        mine.Add(new Waiting(b, i, MbfgOffered: true));
                        continue;
                    }
                    service = mb < 0 ? (byte)1 : (byte)0;
                }
                if (r0 == 0 || r1 == 0)
                {
                    mine.Add(new Waiting(b, i, MbfgOffered: d < 0));
                    continue;
                }
                var level = r0 < 0 ? (byte)0 : r1 < 0 ? (byte)1 : (byte)2;
                var key = AmountKey(b, level);
                foreach (var w in amount[service])
                    w.Offer(key, i, below);
            }
            foreach (var w in windows)
                w.AddBelow(below[w.Id]);
            lock (waiting)
                waiting.AddRange(mine);
        });
        riskHistogram.Complete();

        if (risk[0].Resolve() is not { } risk0 || risk[1].Resolve() is not { } risk1 || data.Resolve() is not { } dataCut)
            return null;
        Cut[] riskCuts = [risk0, risk1];
        var waitingBelow = new long[windows.Count];
        foreach (var w in waiting)
            if (!w.MbfgOffered && dataCut.Below(w.B.DataKey, w.I))
                mbfg.Offer(w.B.MbfgKey, w.I, waitingBelow);
        mbfg.AddBelow(waitingBelow[mbfg.Id]);
        if (mbfg.Resolve() is not { } mbfgCut)
            return null;
        foreach (var w in waiting)
        {
            var key = AmountKey(w.B, RiskLevel(riskCuts, w.B.RiskKey, w.I));
            foreach (var window in amount[Service(dataCut, mbfgCut, w.B, w.I)])
                window.Offer(key, w.I, waitingBelow);
        }
        foreach (var window in amount.SelectMany(a => a))
            window.AddBelow(waitingBelow[window.Id]);
        var amountCuts = new Cut[3][];
        for (var s = 0; s < 3; s++)
        {
            amountCuts[s] = new Cut[amount[s].Length];
            for (var d = 0; d < amount[s].Length; d++)
            {
                if (amount[s][d].Resolve() is not { } cut)
                    return null;
                amountCuts[s][d] = cut;
            }
        }
        return new Ranking(riskHistogram, riskCounts, riskCuts, dataCut, mbfgCut, amountCuts);
    }

    readonly record struct Waiting(Behaviour B, int I, bool MbfgOffered);

    /// The keys around one threshold, [lo, hi], placed by a sample: Offer counts who lies below (into
    /// the caller's counters, added with AddBelow) and collects who lies in it (thread-safe), Resolve
    /// finds the threshold among those collected.
    sealed class Window
    {
        readonly long _rank;
        readonly double _lo, _hi;
        readonly List<(double Key, int Index)> _inside = [];
        long _below;

        Window(int id, long rank, double lo, double hi)
        {
            Id = id;
            _rank = rank;
            _lo = lo;
            _hi = hi;
        }

        /// Index into the callers' below counters.
        public int Id { get; }

        public void AddBelow(long count) => Interlocked.Add(ref _below, count);

        /// Five standard deviations of the sample's rank either side of where the rank falls in it.
        /// A rank equal to the population is End: every key lies below it.
        public static Window Around(int id, double[] sorted, long rank, long population)
        {
            if (rank >= population)
                return new Window(id, rank, double.PositiveInfinity, double.PositiveInfinity);
            var q = (double)rank / population;
            var position = q * sorted.Length;
            var spread = 5 * Math.Sqrt(sorted.Length * q * (1 - q)) + 4;
            var lo = (long)Math.Floor(position - spread);
            var hi = (long)Math.Ceiling(position + spread);
            return new Window(id, rank, lo < 0 ? double.NegativeInfinity : sorted[lo], hi >= sorted.Length ? double.PositiveInfinity : sorted[hi]);
        }

        /// −1 below the window, 0 in it, 1 above.
        public int Offer(double key, int i, long[] below)
        {
            if (key < _lo)
            {
                below[Id]++;
                return -1;
            }
            if (key > _hi)
                return 1;
            lock (_inside)
                _inside.Add((key, i));
            return 0;
        }

        public Cut? Resolve()
        {
            if (double.IsPositiveInfinity(_lo))
                return Cut.End;
            var k = _rank - _below;
            if (k < 0 || k >= _inside.Count)
                return null;
            _inside.Sort((x, y) => x.Key != y.Key ? x.Key.CompareTo(y.Key) : x.Index.CompareTo(y.Index));
            return new Cut(_inside[(int)k].Key, _inside[(int)k].Index);
        }
    }

    /// Larger advances go to subscribers who can carry them: customer value less a risk penalty.
    static double AmountKey(in Behaviour b, byte riskLevel) => b.CapacityKey - 15 * riskLevel;

    static byte RiskLevel(Cut[] cuts, double riskKey, int i) => cuts[0].Below(riskKey, i) ? (byte)0 : cuts[1].Below(riskKey, i) ? (byte)1 : (byte)2;

    // ungsanluong (advance of data volume) goes to the heaviest data users, MBFG to a random share of
    // the rest, EasyCredit to everyone else.
    static byte Service(Cut dataCut, Cut mbfgCut, in Behaviour b, int i) =>
        !dataCut.Below(b.DataKey, i) ? (byte)2 : mbfgCut.Below(b.MbfgKey, i) ? (byte)1 : (byte)0;

    /// 0 LOW, 1 MEDIUM, 2 HIGH (Vocabulary.RiskLevels order): the safest by risk key are LOW.
    public byte RiskLevel(in Behaviour b, int i) => RiskLevel(_riskCuts, b.RiskKey, i);

    /// Vocabulary.ServiceTypes order.
    public byte Service(in Behaviour b, int i) => Service(_dataCut, _mbfgCut, b, i);

    /// Index into DatasetGenerator.Denominations: each service's smallest amounts go to the lowest amount keys.
    public int Denomination(in Behaviour b, int i, byte riskLevel, byte service)
    {
        var key = AmountKey(b, riskLevel);
        var cuts = _amountCuts[service];
        var d = 0;
        while (d < cuts.Length && !cuts[d].Below(key, i))
            d++;
        return d;
    }

    /// The score spreads each band's subscribers evenly over the band by their rank in it, safest
    /// lowest: lo + width · (r + 0.5) / count. The rank r is the histogram's cumulative count
    /// interpolated within the key's bin, so it rises with the key; clamped to the band, the score
    /// stays inside the band's range.
    public double RiskScore(in Behaviour b, byte level)
    {
        var count = _riskCounts[level];
        var r = Math.Clamp(_riskHistogram.Rank(b.RiskKey) - _riskFrom[level], 0, count - 1);
        return DatasetGenerator.R2(RiskBandFrom[level] + RiskBandWidth[level] * (r + 0.5) / count);
    }

    static readonly double[] RiskBandFrom = [3, DatasetGenerator.RiskMediumFrom, DatasetGenerator.RiskHighFrom];
    static readonly double[] RiskBandWidth =
    [
        DatasetGenerator.RiskMediumFrom - 3 - 0.1,
        DatasetGenerator.RiskHighFrom - DatasetGenerator.RiskMediumFrom - 0.1,
        100 - DatasetGenerator.RiskHighFrom,
    ];
}
