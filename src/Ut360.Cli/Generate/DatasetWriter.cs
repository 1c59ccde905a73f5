using Ut360.Data.Upstream;

namespace Ut360.Cli.Generate;

public sealed record WrittenFile(string Name, string Path, long Rows, long Bytes);

/// Writes a generated dataset's three files side by side (one thread each). Files are written
/// under a temporary name and renamed at the end, so an interrupted run never leaves a
/// half-written dataset that looks complete.
public static class DatasetWriter
{
    public const int MaxRowGroupRows = 250_000;
    const int CsvSliceRows = 50_000;

    public static async Task<IReadOnlyList<WrittenFile>> WriteAsync(GeneratedDataset data, string directory, UpstreamFileFormat format,
        GenerateProgress? progress = null, CancellationToken ct = default)
    {
        Directory.CreateDirectory(directory);
        Console.Error.WriteLine($"write start {DateTime.Now:HH:mm:ss.fff} cpu {System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds}");
        (UpstreamBatch Batch, Action<long> Report)[] jobs =
        [
            (data.Recommendations, n => { if (progress is not null) Interlocked.Add(ref progress.RecommendationsRows, n); }),
            (data.Profiles, n => { if (progress is not null) Interlocked.Add(ref progress.ProfilesRows, n); }),
            (data.MonthlyArpu, n => { if (progress is not null) Interlocked.Add(ref progress.MonthlyRows, n); }),
        ];
        var written = await Task.WhenAll(jobs.Select(j => Task.Run(() => WriteFileAsync(j.Batch, directory, format, j.Report, ct), ct)));

        // One dataset per directory: files of the other format would be stale and could be loaded instead.
        var other = format == UpstreamFileFormat.Parquet ? UpstreamFileFormat.Csv : UpstreamFileFormat.Parquet;
        foreach (var file in UpstreamFormat.Files)
            File.Delete(Path.Combine(directory, UpstreamWriter.FileName(file, other)));
        foreach (var (temp, final) in written)
            File.Move(temp, final, overwrite: true);
        return written.Select(w => new WrittenFile(Path.GetFileName(w.Final), w.Final, RowsOf(data, w.Final), new FileInfo(w.Final).Length)).ToArray();
    }

    static long RowsOf(GeneratedDataset data, string path) =>
        new[] { data.Recommendations, data.Profiles, data.MonthlyArpu }
            .First(b => Path.GetFileName(path).StartsWith(b.File.Name + ".", StringComparison.Ordinal)).RowCount;

    /// Row groups split the rows evenly with at most MaxRowGroupRows each (1,501,528 → 7 × 214,504).
    public static int RowGroupRows(int rows)
    {
        var groups = Math.Max(1, (rows + MaxRowGroupRows - 1) / MaxRowGroupRows);
        return Math.Max(1, (rows + groups - 1) / groups);
    }

    static async Task<(string Temp, string Final)> WriteFileAsync(UpstreamBatch batch, string directory, UpstreamFileFormat format,
        Action<long> report, CancellationToken ct)
    {
        var final = Path.Combine(directory, UpstreamWriter.FileName(batch.File, format));
        var temp = final + ".tmp";
        try
        {
            await using (var writer = await UpstreamWriter.CreateAsync(batch.File, temp, format, ct))
            {
                var step = format == UpstreamFileFormat.Parquet ? RowGroupRows(batch.RowCount) : CsvSliceRows;
                for (var offset = 0; offset < batch.RowCount; offset += step)
                {
                    ct.ThrowIfCancellationRequested();
                    var count = Math.Min(step, batch.RowCount - offset);
                    await writer.WriteAsync(batch, offset, count, ct);
                    report(count);
                }
            }
            Console.Error.WriteLine($"{batch.File.Name} done {DateTime.Now:HH:mm:ss.fff} cpu {System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds}");
            return (temp, final);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
