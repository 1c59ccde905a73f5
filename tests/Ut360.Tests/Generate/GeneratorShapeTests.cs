using System.Security.Cryptography;
using Ut360.Cli.Generate;
using Ut360.Data.Domain;
using Ut360.Data.Upstream;

namespace Ut360.Tests.Generate;

public sealed class GeneratorShapeTests
{
    [Fact]
    public void The_default_size_reproduces_the_designs_counts_exactly()
    {
        // Generated in memory only: the counts and the average do not need the files.
        var data = DatasetGenerator.Generate(new GenerateOptions());
        var rec = data.Recommendations;
        Assert.Equal(214_504, rec.RowCount);
        Assert.Equal(1_501_528, data.MonthlyArpu.RowCount);
        Assert.Equal(["202503", "202504", "202505", "202506", "202507", "202508", "202509"], data.Months);

        var services = ((string[])rec.Get("service_type")).GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["EasyCredit"] = 142_000, ["MBFG"] = 45_000, ["ungsanluong"] = 27_504 }, services);
        var risks = ((string[])rec.Get("bad_debt_risk")).GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["LOW"] = 180_000, ["MEDIUM"] = 34_504 }, risks);

        var amounts = (double[])rec.Get("advance_amount");
        Assert.InRange(amounts.Average(), 28_500 * 0.98, 28_500 * 1.02);
        Assert.Equal([0, 1, 2, 3], ((int[])rec.Get("cluster_group")).Distinct().Order().ToArray());
        Assert.Equal(214_504, ((string[])rec.Get("isdn")).Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(37)]
    [InlineData(1000)]
    public void Small_datasets_keep_the_counts_adding_up(int subscribers)
    {
        var data = DatasetGenerator.Generate(new GenerateOptions { Subscribers = subscribers, Months = 3 });
        var services = (string[])data.Recommendations.Get("service_type");
        Assert.Equal(subscribers, services.Length);
        var expected = Quota.Split(subscribers, DatasetGenerator.ServiceWeights);
        for (var s = 0; s < 3; s++)
            Assert.Equal(expected[s], services.Count(x => x == Vocabulary.ServiceTypes[s]));
        Assert.Equal(subscribers * 3, data.MonthlyArpu.RowCount);
        Assert.Equal(subscribers, ((string[])data.Recommendations.Get("isdn")).Distinct().Count());
    }

    [Fact]
    public void Largest_remainder_split_matches_hand_computed_values()
    {
        Assert.Equal([142_000, 45_000, 27_504], Quota.Split(214_504, DatasetGenerator.ServiceWeights));
        Assert.Equal([3310, 1049, 641], Quota.Split(5000, DatasetGenerator.ServiceWeights));
        Assert.Equal([1678, 322, 0], Quota.Split(2000, DatasetGenerator.RiskWeights));
        Assert.Equal([1, 0, 0], Quota.Split(1, DatasetGenerator.RiskWeights));
    }

    [Theory]
    [InlineData(UpstreamFileFormat.Parquet)]
    [InlineData(UpstreamFileFormat.Csv)]
    public async Task The_same_seed_gives_byte_identical_files_and_another_seed_different_ones(UpstreamFileFormat format)
    {
        var root = Path.Combine(Path.GetTempPath(), "ut360-generate-determinism-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new GenerateOptions { Subscribers = 3_000, Seed = 123 };
            // The command's pipelined path and the in-memory path write the same bytes.
            await DatasetWriter.GenerateAsync(options, Path.Combine(root, "a"), format);
            await DatasetWriter.WriteAsync(DatasetGenerator.Generate(options), Path.Combine(root, "b"), format);
            await DatasetWriter.GenerateAsync(options with { Seed = 124 }, Path.Combine(root, "c"), format);
            foreach (var file in UpstreamFormat.Files)
            {
                var name = UpstreamWriter.FileName(file, format);
                var a = Hash(Path.Combine(root, "a", name));
                Assert.Equal(a, Hash(Path.Combine(root, "b", name)));
                Assert.NotEqual(a, Hash(Path.Combine(root, "c", name)));
            }
            Assert.Empty(Directory.GetFiles(Path.Combine(root, "a"), "*.tmp"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void Another_isdn_key_encrypts_the_same_numbers_differently()
    {
        const string key = "000102030405060708090a0b0c0d0e0f";
        var demo = (string[])DatasetGenerator.Generate(new GenerateOptions { Subscribers = 50 }).Recommendations.Get("isdn");
        var other = (string[])DatasetGenerator.Generate(new GenerateOptions { Subscribers = 50, IsdnKeyHex = key }).Recommendations.Get("isdn");
        using var demoCipher = new IsdnCipher();
        using var otherCipher = new IsdnCipher(key);
        for (var i = 0; i < demo.Length; i++)
        {
            Assert.NotEqual(demo[i], other[i]);
            Assert.Equal(demoCipher.Decrypt(demo[i]), otherCipher.Decrypt(other[i]));
        }
    }

    [Fact]
    public void The_months_end_with_the_month_before_the_date()
    {
        Assert.Equal(["202511", "202512", "202601"], DatasetGenerator.MonthsFor(new DateOnly(2026, 2, 1), 3));
    }
}
