using Ut360.Data.Upstream;

namespace Ut360.Cli.Generate;

public sealed record WrittenFile(string Name, string Path, long Rows, long Bytes);

/// Writes a dataset's three files row group by row group. Files are written under a temporary name
/// and renamed at the end, so an interrupted run never leaves a half-written dataset that looks complete.
public static class DatasetWriter
{
    public const int MaxRowGroupRows = 250_000;

    /// A row group's profiles carry four texts each (~2 KB in memory), held until the group is written;
    /// this cap keeps that bounded when there are few months per subscriber.
    public const int MaxRowGroupSubscribers = 50_000;

    /// Generates and writes in bounded memory: the global step first, then one row group of
    /// subscribers at a time, the next generated while the last is written.
    public static async Task<IReadOnlyList<WrittenFile>> GenerateAsync(GenerateOptions options, string directory, UpstreamFileFormat format,
        GenerateProgress? progress = null, CancellationToken ct = default)
    {
        var generation = await Task.Run(() => DatasetGenerator.Start(options, progress, ct), ct);
        var n = options.Subscribers;
        var group = SubscribersPerRowGroup(n, options.Months);
        return await WriteFilesAsync(directory, format, n, options.Months, async writers =>
        {
            var writing = Task.CompletedTask;
            try
            {
                for (var from = 0; from < n; from += group)
                {
                    var (start, count) = (from, Math.Min(group, n - from));
                    var rows = await Task.Run(() => generation.Generate(start, count, ct), ct);
                    await writing;
                    writing = WriteRowGroupAsync(writers, rows, 0, count, progress, ct);
                }
            }
            catch
            {
                // The files are deleted next: no write may still be running.
                await Task.WhenAny(writing);
                throw;
            }
            await writing;
        }, ct);
    }

    /// Writes a dataset held in memory (DatasetGenerator.Generate) with the same row groups, so
    /// the files are byte-identical to those of GenerateAsync.
    public static Task<IReadOnlyList<WrittenFile>> WriteAsync(GeneratedDataset data, string directory, UpstreamFileFormat format,
        GenerateProgress? progress = null, CancellationToken ct = default)
    {
        var n = data.Recommendations.RowCount;
        var months = data.Months.Length;
        var group = SubscribersPerRowGroup(n, months);
        return WriteFilesAsync(directory, format, n, months, async writers =>
        {
            for (var from = 0; from < n; from += group)
                await WriteRowGroupAsync(writers, data, from, Math.Min(group, n - from), progress, ct);
        }, ct);
    }

    /// Row groups cover the same subscribers in the three files: as many subscribers as keep the
    /// monthly rows (months per subscriber) within MaxRowGroupRows, split evenly
    /// (214,504 × 7 months → 7 groups of 30,643 subscribers, 214,501 monthly rows).
    public static int SubscribersPerRowGroup(int subscribers, int months)
    {
        var most = Math.Max(1, Math.Min(MaxRowGroupSubscribers, MaxRowGroupRows / months));
        var groups = (subscribers + most - 1) / most;
        return (subscribers + groups - 1) / groups;
    }

    /// Subscribers [from, from + count) of data: a row group in each file, the three written in parallel.
    static Task WriteRowGroupAsync(UpstreamWriter[] writers, GeneratedDataset data, int from, int count, GenerateProgress? progress, CancellationToken ct)
    {
        var months = data.Months.Length;
        return Task.WhenAll(
            Task.Run(() => WriteRowsAsync(writers[0], data.Recommendations, from, count, progress, ct), ct),
            Task.Run(() => WriteRowsAsync(writers[1], data.Profiles, from, count, progress, ct), ct),
            Task.Run(() => WriteRowsAsync(writers[2], data.MonthlyArpu, from * months, count * months, progress, ct), ct));
    }

    static async Task WriteRowsAsync(UpstreamWriter writer, UpstreamBatch batch, int offset, int count, GenerateProgress? progress, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        await writer.WriteAsync(batch, offset, count, ct);
        if (progress is not null)
            Interlocked.Add(ref progress.RowsOf(batch.File), count);
    }

    /// Opens the three files under temporary names, lets write fill them, then publishes them; on
    /// any failure removes them.
    static async Task<IReadOnlyList<WrittenFile>> WriteFilesAsync(string directory, UpstreamFileFormat format, int subscribers, int months,
        Func<UpstreamWriter[], Task> write, CancellationToken ct)
    {
        Directory.CreateDirectory(directory);
        UpstreamFile[] files = [UpstreamFormat.Recommendations, UpstreamFormat.Profiles, UpstreamFormat.MonthlyArpu];
        var finals = files.Select(f => Path.Combine(directory, UpstreamWriter.FileName(f, format))).ToArray();
        var temps = finals.Select(f => f + ".tmp").ToArray();
        var writers = new List<UpstreamWriter>();
        try
        {
            try
            {
                for (var f = 0; f < files.Length; f++)
                    writers.Add(await UpstreamWriter.CreateAsync(files[f], temps[f], format, ct));
                await write([.. writers]);
            }
            finally
            {
                foreach (var writer in writers)
                    await writer.DisposeAsync();
            }
        }
        catch
        {
            foreach (var temp in temps)
                File.Delete(temp);
            throw;
        }

        // One dataset per directory: files of the other format would be stale and could be loaded instead.
        var other = format == UpstreamFileFormat.Parquet ? UpstreamFileFormat.Csv : UpstreamFileFormat.Parquet;
        foreach (var file in UpstreamFormat.Files)
            File.Delete(Path.Combine(directory, UpstreamWriter.FileName(file, other)));
        long[] rows = [subscribers, subscribers, (long)subscribers * months];
        var written = new WrittenFile[files.Length];
        for (var f = 0; f < files.Length; f++)
        {
            File.Move(temps[f], finals[f], overwrite: true);
            written[f] = new WrittenFile(Path.GetFileName(finals[f]), finals[f], rows[f], new FileInfo(finals[f]).Length);
        }
        return written;
    }
}
