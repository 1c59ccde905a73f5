using System.Diagnostics;
using System.Security.Cryptography;
using Npgsql;
using Ut360.Data.Upstream;
using static Ut360.Data.Loading.Staging;

namespace Ut360.Data.Loading;

/// Loads the upstream files of a directory into PostgreSQL (docs/loading.md):
/// read column-wise, check every row, quarantine rejects, binary COPY the accepted rows into
/// session-local staging tables, run the whole-data-set checks there, then write the live tables
/// in one transaction: FreshLoad when they are empty, MergeLoad (delete missing rows, update
/// changed rows only, insert new ones) otherwise. Readers keep seeing the previous data until the
/// commit; a failure or a killed process leaves it untouched.
public sealed class DataLoader(NpgsqlDataSource dataSource)
{
    // Serialises loads across processes; distinct from the migrator's key.
    internal const long LoadLockKey = 0x75743336304C; // "ut360L"

    public async Task<LoadResult> LoadAsync(LoadOptions options, IProgress<LoadProgress>? progress = null, CancellationToken ct = default)
    {
        var timings = new List<(string, TimeSpan)>();
        var clock = Stopwatch.StartNew();
        void Lap(string stage) { timings.Add((stage, clock.Elapsed)); clock.Restart(); }

        var read = LoadReadOptions.From(options);
        var (format, sources) = Locate(options.Directory);
        var hashes = sources.Select(s => Task.Run(() => HashAsync(s.Parts, ct), ct)).ToArray();

        await using var conn = await dataSource.OpenConnectionAsync(ct);
        if (await LoadLock.AcquireAsync(conn, LoadLockKey, ct) is { } waited)
            timings.Add(("previous load rolling back", waited));
        // Under the lock no other load runs, so a row still 'running' belongs to a dead process.
        await Exec(conn, """
            UPDATE data_loads SET outcome = 'failed', finished_at = clock_timestamp(),
                message = 'interrupted: the loading process ended before it finished'
            WHERE outcome = 'running'
            """, ct);

        long loadId;
        DateTimeOffset startedAt;
        await using (var cmd = new NpgsqlCommand("""
            INSERT INTO data_loads (data_version, mode, source_dir, source_format)
            VALUES (@version, @mode, @dir, @format) RETURNING id, started_at
            """, conn) { CommandTimeout = 0 })
        {
            cmd.Parameters.AddWithValue("version", options.DataVersion ?? "(pending)");
            cmd.Parameters.AddWithValue("mode", LoadRecord.ModeName(options.Mode));
            cmd.Parameters.AddWithValue("dir", Path.GetFullPath(options.Directory));
            cmd.Parameters.AddWithValue("format", format);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            loadId = reader.GetInt64(0);
            startedAt = reader.GetFieldValue<DateTimeOffset>(1);
        }

        try
        {
            return await RunAsync(conn, loadId, startedAt, options, read, format, sources, hashes, progress, timings, Lap, ct);
        }
        catch (Exception e)
        {
            await LoadRecord.FailAsync(dataSource, loadId, e is OperationCanceledException ? "cancelled" : e.Message);
            throw;
        }
        finally
        {
            await UnlockAsync(conn);
        }
    }

    // The lock is the session's: a pooled connection would keep holding it after the load.
    // A broken connection has lost it already.
    static async Task UnlockAsync(NpgsqlConnection conn)
    {
        if (conn.State != System.Data.ConnectionState.Open)
            return;
        try
        {
            await using var cmd = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", conn) { CommandTimeout = 30 };
            await cmd.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // Closing the connection ends the session, and the lock with it.
        }
    }

    async Task<LoadResult> RunAsync(NpgsqlConnection conn, long loadId, DateTimeOffset startedAt, LoadOptions options,
        LoadReadOptions read, string format, UpstreamSource[] sources, Task<(string Sha, long Bytes)>[] hashes, IProgress<LoadProgress>? progress,
        List<(string, TimeSpan)> timings, Action<string> lap, CancellationToken ct)
    {
        // Staging: session-local temporary tables (no WAL, no indexes, gone with the session if
        // the process dies). The files stream through the row checks into them batch by batch,
        // so memory holds one batch, not the data set.
        await TrySetAsync(conn, "SET temp_buffers = '512MB'", ct);
        await Exec(conn, Staging.Create + StagingChecks.CreateTables, ct);
        var staging = new StagingChecks(conn, sources.Select(s => s.Name).ToArray());

        // One file after the other. Reading the three Parquet files on parallel threads gave
        // NULL for about 2.6 % of one DOUBLE column's values in one run with the earlier reader
        // (cause not found); sequential reading has always returned the file's values.
        var rowCounts = new long[3];
        var problems = new List<RejectedRow>();
        for (var f = 0; f < 3; f++)
        {
            var file = UpstreamFormat.Files[f];
            var source = sources[f];
            var stage = "read " + source.Name;
            long done = 0;
            progress?.Report(new(stage, 0, 0));
            var index = f;
            async Task OnBatch(UpstreamTable batch)
            {
                var rejected = LoadChecks.Check(batch, problems);
                await staging.StageAsync(index, batch, rejected, problems, ct);
                done += batch.Rows;
                progress?.Report(new(stage, done, 0));
            }
            rowCounts[f] = format == "parquet"
                ? await ParquetSource.ReadAsync(source.Parts, source.Name, file, read, OnBatch, ct)
                : await CsvSource.ReadAsync(source.Parts, source.Name, file, read, OnBatch, ct);
            if (rowCounts[f] > int.MaxValue)
                throw new LoadCheckException($"{source.Name}: {rowCounts[f]} rows is more than one load takes");
        }
        lap("read and stage");

        var totalRows = rowCounts.Sum();
        progress?.Report(new("check", 0, totalRows));
        var (rejectedRows, rejectedSubscribers, accepted) = await staging.RunAsync(ct);
        progress?.Report(new("check", totalRows, totalRows));

        var files = new SourceFile[3];
        for (var f = 0; f < 3; f++)
        {
            var (sha, bytes) = await hashes[f];
            files[f] = new SourceFile(sources[f].Name, sha, bytes, (int)rowCounts[f]);
        }
        var version = options.DataVersion ?? "sha-" + Convert.ToHexStringLower(
            SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('|', files.Select(f => f.Sha256)))))[..12];

        string? rejectsPath = null;
        if (rejectedRows > 0)
        {
            rejectsPath = Path.GetFullPath(options.RejectsFile ?? "load.rejects.csv");
            await staging.WriteRejectsAsync(rejectsPath, ct);
        }
        lap("check");

        var result = new LoadResult
        {
            LoadId = loadId, DataVersion = version, Mode = options.Mode, Format = format, Files = files,
            RejectedRows = rejectedRows, RejectedSubscribers = rejectedSubscribers,
            RejectsFile = rejectsPath, StartedAt = startedAt, Outcome = LoadOutcome.Refused,
            TopCauses = rejectedRows > 0 ? await staging.TopCausesAsync(5, ct) : [],
        };

        string? refusal = null;
        if (rejectedRows > options.MaxRejectRate * totalRows)
            refusal = $"refused: {rejectedRows} of {totalRows} rows rejected "
                + $"({(double)rejectedRows / Math.Max(1, totalRows):P2}), more than the allowed {options.MaxRejectRate:P2}";
        else if (options.Mode == LoadMode.Snapshot && accepted == 0)
            refusal = "refused: no recommendation row to load; a snapshot of nothing would delete every subscriber";
        if (refusal is not null)
        {
            await LoadRecord.RefuseAsync(conn, result, refusal, ct);
            await Exec(conn, Staging.Drop, ct);
            return result with { Message = refusal, FinishedAt = DateTimeOffset.UtcNow, Timings = timings };
        }

        ChangeSet changes;
        if (await FreshLoad.LiveTablesEmptyAsync(conn, ct))
        {
            result = await FreshLoad.RunAsync(conn, result, progress, lap, ct);
            changes = await FreshLoad.ChangesAsync(conn, result, options.ReturnIsdns, ct);
        }
        else
        {
            result = await MergeLoad.RunAsync(conn, result, options, progress, ct);
            if (result.Outcome == LoadOutcome.Refused)
            {
                await Exec(conn, Staging.Drop, ct);
                return result with { FinishedAt = DateTimeOffset.UtcNow, Timings = timings };
            }
            lap("merge");
            changes = await MergeLoad.ChangesAsync(conn, options.ReturnIsdns, ct);
        }
        await Exec(conn, Staging.Drop, ct);
        // No ANALYZE here: autovacuum analyses after large changes, and a fresh load's index
        // builds already give the planner the tables' sizes.
        lap("finish");

        return result with
        {
            ChangedIsdns = changes.Changed, DeletedIsdns = changes.Deleted,
            ChangedSubscribers = changes.ChangedCount, DeletedSubscribers = changes.DeletedCount,
            FinishedAt = DateTimeOffset.UtcNow, Timings = timings,
        };
    }

    static (string Format, UpstreamSource[] Sources) Locate(string directory)
    {
        if (!Directory.Exists(directory))
            throw new LoadCheckException($"{directory}: no such directory");
        var first = UpstreamSource.Find(directory, UpstreamFormat.Recommendations, null)
            ?? throw new LoadCheckException($"{UpstreamFormat.Recommendations.ParquetFile}: missing (neither it nor {UpstreamFormat.Recommendations.CsvFile}, .csv.gz or a folder of part files is in {directory})");
        var sources = new UpstreamSource[3];
        sources[0] = first;
        for (var f = 1; f < 3; f++)
        {
            var file = UpstreamFormat.Files[f];
            sources[f] = UpstreamSource.Find(directory, file, first.Format)
                ?? throw new LoadCheckException($"{(first.Format == "parquet" ? file.ParquetFile : file.CsvFile)}: missing from {directory} (the load reads {string.Join(", ", UpstreamFormat.Files.Select(u => first.Format == "parquet" ? u.ParquetFile : u.CsvFile))}, as files or folders of part files)");
        }
        return (first.Format, sources);
    }

    /// sha256 of a table's bytes (its parts in order) and their size.
    static async Task<(string, long)> HashAsync(IReadOnlyList<string> parts, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long bytes = 0;
        foreach (var part in parts)
        {
            await using var stream = new FileStream(part, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                bytes += n;
            }
        }
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), bytes);
    }

    static async Task TrySetAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        try
        {
            await Exec(conn, sql, ct);
        }
        catch (PostgresException)
        {
            // temp_buffers cannot change once this session has used temporary tables; the
            // default then applies and the staging tables spill to their files sooner.
        }
    }
}
