using System.Runtime.ExceptionServices;
using Ut360.Data.Upstream;

namespace Ut360.Cli.Generate;

public sealed record WrittenFile(string Name, string Path, long Rows, long Bytes);

/// Writes a dataset's three files row group by row group. Files are written under a temporary name
/// and renamed at the end, so an interrupted run never leaves a half-written dataset that looks complete.
public static class DatasetWriter
{
    public const int MaxRowGroupRows = 250_000;

    /// What the command holds is RowGroupsInFlight row groups plus the buffers Parquet.Net rents for a
    /// column chunk and keeps pooled per thread, all in proportion to the group: with 10,000 subscribers
    /// the peak stays near 550–600 MB from 3× the design's dataset to 10× (bench/results/scale.md), where
    /// 35,000 (250,000 monthly rows) let it grow from 560 MB at 214,504 subscribers to 730 MB at 643,512.
    public const int MaxRowGroupSubscribers = 10_000;

    /// Row groups generated or being written at once: several generated while earlier ones are written,
    /// each file at its own pace, so that both cores stay busy when the writers and the generator take
    /// turns being slow. Two held ~40 MB less; the figures with four are in bench/results/scale.md.
    const int RowGroupsInFlight = 4;

    /// Generates and writes in bounded memory: the global step first, then row groups of subscribers,
    /// several generated at once and each file's writer taking them in order; a row group is dropped
    /// once the three files have it.
    public static async Task<IReadOnlyList<WrittenFile>> GenerateAsync(GenerateOptions options, string directory, UpstreamFileFormat format,
        GenerateProgress? progress = null, CancellationToken ct = default)
    {
        var generation = await Task.Run(() => DatasetGenerator.Start(options, progress, ct), ct);
        var n = options.Subscribers;
        var group = SubscribersPerRowGroup(n, options.Months);
        var groups = (n + group - 1) / group;
        return await WriteFilesAsync(directory, format, n, options.Months, async writers =>
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var token = stop.Token;
            var ready = new TaskCompletionSource<GeneratedDataset>?[groups];
            for (var i = 0; i < groups; i++)
                ready[i] = new TaskCompletionSource<GeneratedDataset>(TaskCreationOptions.RunContinuationsAsynchronously);
            var unwritten = Enumerable.Repeat(writers.Length, groups).ToArray();
            using var slots = new SemaphoreSlim(RowGroupsInFlight);

            async Task Produce()
            {
                for (var i = 0; i < groups; i++)
                {
                    await slots.WaitAsync(token);
                    var (index, from) = (i, i * group);
                    _ = Task.Run(() =>
                    {
                        try
                        {
                            ready[index]!.SetResult(generation.Generate(from, Math.Min(group, n - from), token));
                        }
                        catch (Exception e)
                        {
                            ready[index]!.SetException(e);
                        }
                    }, CancellationToken.None);
                }
            }

            async Task Write(int file)
            {
                for (var i = 0; i < groups; i++)
                {
                    var rows = await ready[i]!.Task.WaitAsync(token);
                    var months = rows.Months.Length;
                    var count = rows.Recommendations.RowCount;
                    if (file == 2)
                        await WriteRowsAsync(writers[file], rows.MonthlyArpu, 0, count * months, progress, token);
                    else
                        await WriteRowsAsync(writers[file], file == 0 ? rows.Recommendations : rows.Profiles, 0, count, progress, token);
                    if (Interlocked.Decrement(ref unwritten[i]) == 0)
                    {
                        ready[i] = null; // the three files have it: let it go
                        slots.Release();
                    }
                }
            }

            // The first failure stops the rest; it is the one reported, not the cancellations it causes.
            Task[] tasks = [Task.Run(Produce, token), .. Enumerable.Range(0, writers.Length).Select(f => Task.Run(() => Write(f), token))];
            foreach (var task in tasks)
                _ = task.ContinueWith(_ => stop.Cancel(), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            try
            {
                await Task.WhenAll(tasks);
            }
            catch when (tasks.FirstOrDefault(t => t.IsFaulted && t.Exception!.InnerException is not OperationCanceledException) is { } first)
            {
                ExceptionDispatchInfo.Throw(first.Exception!.InnerException!);
            }
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
    /// and MaxRowGroupSubscribers (214,504 × 7 months → 22 groups of 9,751 subscribers, 68,257 monthly rows).
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
