namespace Ut360.Cli.Generate;

// The rank-threshold primitives of Ranking: a cut in (key, index) order, the histogram that
// locates a rank's bin, and the selection that resolves it within the bin.
sealed partial class Ranking
{
    /// The element holding one rank in the order of (key, subscriber index). An element is below the
    /// cut when its rank is lower; End is the cut after every element (a rank equal to the count).
    readonly record struct Cut(double Key, int Index)
    {
        public static readonly Cut End = new(double.PositiveInfinity, int.MaxValue);

        public bool Below(double key, int i) => key < Key || (key == Key && i < Index);
    }

    /// Counts of keys in 65,536 equal bins over [min, max]; keys outside count in the end bins.
    /// Add is thread-safe; Rank and Locate are valid after Complete.
    sealed class KeyHistogram(double min, double max)
    {
        const int Bins = 1 << 16;
        readonly int[] _counts = new int[Bins];
        readonly long[] _below = new long[Bins + 1];
        readonly double _scale = Bins / (max - min);

        public long Count => _below[Bins];

        double Position(double key) => Math.Clamp((key - min) * _scale, 0, Bins - 0.5);

        public int Bin(double key) => (int)Position(key);

        public void Add(double key) => Interlocked.Increment(ref _counts[Bin(key)]);

        public void Complete()
        {
            for (var b = 0; b < Bins; b++)
                _below[b + 1] = _below[b] + _counts[b];
        }

        /// The bin that holds the element of a rank, and that element's rank within the bin.
        public (int Bin, int InBin) Locate(long rank)
        {
            int lo = 0, hi = Bins - 1;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_below[mid + 1] > rank)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            return (lo, (int)(rank - _below[lo]));
        }

        /// How many keys lie below this one, interpolated linearly within its bin.
        public double Rank(double key)
        {
            var position = Position(key);
            var bin = (int)position;
            return _below[bin] + _counts[bin] * (position - bin);
        }
    }

    /// One rank threshold: Offer every element in a pass after the histogram is complete, then Resolve.
    /// An element's extra value travels with it, for decisions that wait on the threshold.
    sealed class Selection
    {
        readonly int _inBin;
        readonly List<(double Key, int Index, double Extra)> _found = [];

        public Selection(KeyHistogram histogram, long rank)
        {
            if (rank >= histogram.Count)
            {
                Bin = int.MaxValue;
                return;
            }
            (Bin, _inBin) = histogram.Locate(rank);
            Histogram = histogram;
        }

        KeyHistogram? Histogram { get; }

        /// The bin the threshold lies in; int.MaxValue when it is End (every element below).
        public int Bin { get; }

        public IReadOnlyList<(double Key, int Index, double Extra)> Found => _found;

        public void Offer(double key, int i, double extra)
        {
            if (Histogram is null || Histogram.Bin(key) != Bin)
                return;
            lock (_found)
                _found.Add((key, i, extra));
        }

        public Cut Resolve()
        {
            if (Histogram is null)
                return Cut.End;
            _found.Sort((x, y) => x.Key != y.Key ? x.Key.CompareTo(y.Key) : x.Index.CompareTo(y.Index));
            var (key, index, _) = _found[_inBin];
            return new Cut(key, index);
        }
    }
}
