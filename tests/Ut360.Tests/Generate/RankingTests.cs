using Ut360.Cli.Generate;

namespace Ut360.Tests.Generate;

public sealed class RankingTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(16, 2)]
    [InlineData(37, 3)]
    [InlineData(5_000, 4)]
    [InlineData(60_000, 5)]
    public void The_one_pass_ranking_decides_exactly_as_the_four_pass_one(int subscribers, long seed)
    {
        const int months = 7;
        Behaviour Draw(int i) => DatasetGenerator.Draw(seed, months, i, new long[4 * months]);
        void ForChunks(Action<int, int> body) =>
            Parallel.For(0, (subscribers + 999) / 1000, c => body(c * 1000, Math.Min(subscribers, c * 1000 + 1000)));

        var sampled = Ranking.BySample(subscribers, Draw, ForChunks);
        var histograms = Ranking.ByHistograms(subscribers, Draw, ForChunks);

        Assert.NotNull(sampled);
        var services = new int[3];
        for (var i = 0; i < subscribers; i++)
        {
            var b = Draw(i);
            var level = histograms.RiskLevel(b, i);
            var service = histograms.Service(b, i);
            services[service]++;
            Assert.Equal(level, sampled.RiskLevel(b, i));
            Assert.Equal(service, sampled.Service(b, i));
            Assert.Equal(histograms.Denomination(b, i, level, service), sampled.Denomination(b, i, level, service));
            Assert.Equal(histograms.RiskScore(b, level), sampled.RiskScore(b, level));
        }
        Assert.Equal(Quota.Split(subscribers, DatasetGenerator.ServiceWeights), services);
    }
}
