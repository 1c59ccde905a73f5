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
    public async Task The_files_are_the_same_whatever_the_work_is_split_into()
    {
        var root = Path.Combine(Path.GetTempPath(), "ut360-generate-chunks-" + Guid.NewGuid().ToString("N"));
        try
        {
            // 60 months keep a row group to 4,166 subscribers: two groups of 3,000, so the command's
            // path generates one range while it writes the other.
            var options = new GenerateOptions { Subscribers = 6_000, Months = 60, Seed = 5 };
            Assert.Equal(3_000, DatasetWriter.SubscribersPerRowGroup(options.Subscribers, options.Months));
            await DatasetWriter.GenerateAsync(options, Path.Combine(root, "a"), UpstreamFileFormat.Parquet);
            await DatasetWriter.GenerateAsync(options with { WorkChunk = 97 }, Path.Combine(root, "b"), UpstreamFileFormat.Parquet);
            await DatasetWriter.WriteAsync(DatasetGenerator.Generate(options with { WorkChunk = 6_000 }), Path.Combine(root, "c"), UpstreamFileFormat.Parquet);
            foreach (var file in UpstreamFormat.Files)
            {
                var a = Hash(Path.Combine(root, "a", file.ParquetFile));
                Assert.Equal(a, Hash(Path.Combine(root, "b", file.ParquetFile)));
                Assert.Equal(a, Hash(Path.Combine(root, "c", file.ParquetFile)));
            }
            await using var reader = await Parquet.ParquetReader.CreateAsync(Path.Combine(root, "a", UpstreamFormat.MonthlyArpu.ParquetFile));
            Assert.Equal(2, reader.RowGroupCount);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_run_stopped_while_writing_leaves_no_files_behind()
    {
        var root = Path.Combine(Path.GetTempPath(), "ut360-generate-stopped-" + Guid.NewGuid().ToString("N"));
        try
        {
            var progress = new GenerateProgress();
            using var cts = new CancellationTokenSource();
            var run = DatasetWriter.GenerateAsync(new GenerateOptions { Subscribers = 300_000 }, root, UpstreamFileFormat.Parquet, progress, cts.Token);
            // Stop once the first row groups are written and more are being generated.
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (Interlocked.Read(ref progress.MonthlyRows) == 0 && !run.IsCompleted && DateTime.UtcNow < deadline)
                await Task.Delay(10);
            Assert.False(run.IsCompleted, "the run ended before it could be stopped");
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
            Assert.Empty(Directory.GetFiles(root));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Risk_scores_stay_in_their_band_and_rise_with_the_risk_key()
    {
        var options = new GenerateOptions { Subscribers = 20_000, Months = 7, Seed = 11 };
        var data = DatasetGenerator.Generate(options);
        var level = ((string[])data.Recommendations.Get("bad_debt_risk")).Select(r => Array.IndexOf(Vocabulary.RiskLevels, r)).ToArray();
        var score = (double[])data.Profiles.Get("risk_score");
        var cents = new long[4 * options.Months];
        var key = Enumerable.Range(0, options.Subscribers).Select(i => DatasetGenerator.Draw(options.Seed, options.Months, i, cents).RiskKey).ToArray();
        // The safest by key are LOW, exactly as many as the design's share.
        var byKey = Enumerable.Range(0, options.Subscribers).OrderBy(i => key[i]).ThenBy(i => i).ToArray();
        var counts = Quota.Split(options.Subscribers, DatasetGenerator.RiskWeights);
        double[] from = [3, 35, 65], to = [34.9, 64.9, 100];
        for (var r = 0; r < byKey.Length; r++)
        {
            var i = byKey[r];
            var expectedLevel = r < counts[0] ? 0 : r < counts[0] + counts[1] ? 1 : 2;
            Assert.Equal(expectedLevel, level[i]);
            Assert.InRange(score[i], from[expectedLevel], to[expectedLevel]);
            Assert.Equal(Math.Round(score[i], 2), score[i]);
            if (r > 0 && level[byKey[r - 1]] == expectedLevel)
                Assert.True(score[byKey[r - 1]] <= score[i], $"rank {r}: {score[byKey[r - 1]]} > {score[i]}");
            // The interpolated rank is close to the exact one: lo + width · (rank in band + 0.5) / count.
            var bandFrom = expectedLevel == 0 ? 0 : counts[0];
            var exact = from[expectedLevel] + (to[expectedLevel] - from[expectedLevel]) * (r - bandFrom + 0.5) / counts[expectedLevel];
            Assert.Equal(exact, score[i], 0.1);
        }
    }

    [Fact]
    public void Another_isdn_key_encrypts_the_same_numbers_differently()
    {
        const string key = "000102030405060708090a0b0c0d0e0f";
        var demo = (string[])DatasetGenerator.Generate(new GenerateOptions { Subscribers = 50 }).Recommendations.Get("isdn");
        var other = (string[])DatasetGenerator.Generate(new GenerateOptions { Subscribers = 50, IsdnKeyHex = key }).Recommendations.Get("isdn");
        using var demoCipher = new IsdnCipher();
        using var otherCipher = new IsdnCipher(key);
        // Only the demo key's dataset carries the design's example ISDN.
        Assert.Equal(DatasetGenerator.DesignExampleIsdn, demo[0]);
        Assert.NotEqual(DatasetGenerator.DesignExampleIsdn, other[0]);
        for (var i = 1; i < demo.Length; i++)
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
