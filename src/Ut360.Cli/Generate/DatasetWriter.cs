using Ut360.Data.Upstream;

namespace Ut360.Cli.Generate;

public sealed record WrittenFile(string Name, string Path, long Rows, long Bytes);

/// Writes a dataset's three files, one thread each. Files are written under a temporary name and
/// renamed at the end, so an interrupted run never leaves a half-written dataset that looks complete.
public static class DatasetWriter
{
    public const int MaxRowGroupRows = 250_000;
    const int CsvSliceRows = 50_000;

    /// Generates and writes: each file is written as soon as its rows are complete, while the
    /// generator works on the rest.
    public static async Task<IReadOnlyList<WrittenFile>> GenerateAsync(GenerateOptions options, string directory, UpstreamFileFormat format,
        GenerateProgress? progress = null, CancellationToken ct = default)
    {
        Directory.CreateDirectory(directory);
        var writes = new List<Task<(string Temp, string Final)>>();
        try
        {
            void Start(UpstreamBatch batch) => writes.Add(Task.Run(() => WriteFileAsync(batch, directory, format, progress, ct), ct));
            var data = await Task.Run(() => DatasetGenerator.Generate(options, progress, ct, Start, Start), ct);
            Start(data.Profiles);
            return Publish(data, directory, format, await Task.WhenAll(writes));
        }
        catch
        {
            await DiscardAsync(writes);
            throw;
        }
    }

    public static async Task<IReadOnlyList<WrittenFile>> WriteAsync(GeneratedDataset data, string directory, UpstreamFileFormat format,
        GenerateProgress? progress = null, CancellationToken ct = default)
    {
        Directory.CreateDirectory(directory);
        var writes = new[] { data.Recommendations, data.Profiles, data.MonthlyArpu }
            .Select(b => Task.Run(() => WriteFileAsync(b, directory, format, progress, ct), ct)).ToList();
        try
        {
            return Publish(data, directory, format, await Task.WhenAll(writes));
        }
        catch
        {
            await DiscardAsync(writes);
            throw;
        }
    }

    /// After a failure: wait for the other writers and remove what they wrote.
    static async Task DiscardAsync(List<Task<(string Temp, string Final)>> writes)
    {
        foreach (var write in writes)
        {
            try
            {
                File.Delete((await write).Temp);
            }
            catch (Exception)
            {
                // A failed writer has removed its own file; the first failure is the one reported.
            }
        }
    }

    static WrittenFile[] Publish(GeneratedDataset data, string directory, UpstreamFileFormat format, (string Temp, string Final)[] written)
    {
        // One dataset per directory: files of the other format would be stale and could be loaded instead.
        var other = format == UpstreamFileFormat.Parquet ? UpstreamFileFormat.Csv : UpstreamFileFormat.Parquet;
        foreach (var file in UpstreamFormat.Files)
            File.Delete(Path.Combine(directory, UpstreamWriter.FileName(file, other)));
        foreach (var (temp, final) in written)
            File.Move(temp, final, overwrite: true);
        return [.. new[] { data.Recommendations, data.Profiles, data.MonthlyArpu }.Select(b =>
        {
            var path = Path.Combine(directory, UpstreamWriter.FileName(b.File, format));
            return new WrittenFile(Path.GetFileName(path), path, b.RowCount, new FileInfo(path).Length);
        })];
    }

    /// Row groups split the rows evenly with at most MaxRowGroupRows each (1,501,528 → 7 × 214,504).
    public static int RowGroupRows(int rows)
    {
        var groups = Math.Max(1, (rows + MaxRowGroupRows - 1) / MaxRowGroupRows);
        return Math.Max(1, (rows + groups - 1) / groups);
    }

    static async Task<(string Temp, string Final)> WriteFileAsync(UpstreamBatch batch, string directory, UpstreamFileFormat format,
        GenerateProgress? progress, CancellationToken ct)
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
                    if (progress is not null)
                        Interlocked.Add(ref progress.RowsOf(batch.File), count);
                }
            }
            return (temp, final);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
