namespace Ut360.Cli.Generate;

public static class Quota
{
    /// Splits total into parts proportional to weights by the largest-remainder method, in exact
    /// integer arithmetic (ties go to the earlier part), so the parts always add up to total and
    /// the design's own counts come back unchanged when total equals their sum.
    public static int[] Split(int total, ReadOnlySpan<long> weights)
    {
        long sum = 0;
        foreach (var w in weights)
            sum += w;
        if (sum <= 0)
            throw new ArgumentException("The weights must add up to more than zero.", nameof(weights));
        var parts = new int[weights.Length];
        var remainders = new long[weights.Length];
        long given = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            var product = (Int128)total * weights[i];
            parts[i] = (int)(product / sum);
            remainders[i] = (long)(product % sum);
            given += parts[i];
        }
        for (var left = total - given; left > 0; left--)
        {
            var best = -1;
            for (var i = 0; i < weights.Length; i++)
                if (weights[i] > 0 && (best < 0 || remainders[i] > remainders[best]))
                    best = i;
            parts[best]++;
            remainders[best] = -1;
        }
        return parts;
    }
}
