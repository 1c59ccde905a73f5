namespace Ut360.Cli.Generate;

/// SplitMix64, seeded per subscriber and purpose: every subscriber's values depend only on
/// (seed, subscriber index, stream), never on thread count or chunking, so parallel runs
/// write the same bytes. A struct: no allocation per subscriber.
public struct Rng
{
    ulong _state;

    public Rng(long seed, long index, ulong stream)
    {
        _state = Mix((ulong)seed * 0x9E3779B97F4A7C15UL ^ Mix((ulong)index + 0x632BE59BD9B4E019UL * (stream + 1)));
    }

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// Uniform in [0, 1).
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public double Uniform(double min, double max) => min + (max - min) * NextDouble();

    /// Standard normal (Box–Muller; one of the pair is dropped to keep the state simple).
    public double Normal()
    {
        var u1 = 1.0 - NextDouble();
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    public bool Chance(double p) => NextDouble() < p;
}
