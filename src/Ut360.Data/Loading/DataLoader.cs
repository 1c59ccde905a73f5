using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Npgsql;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// Loads the upstream files of a directory into PostgreSQL (docs/loading.md):
/// read column-wise, check every row, quarantine rejects, binary COPY the accepted rows into
/// session-local staging tables, then merge them into the live tables in one transaction that
/// deletes missing rows, updates changed rows only and inserts new ones. Readers keep seeing the
/// previous data until the commit; a failure or a killed process leaves it untouched.
public sealed class DataLoader(NpgsqlDataSource dataSource)
{
    // Serialises loads across processes; distinct from the migrator's key.
    const long LoadLockKey = 0x75743336304C; // "ut360L"

    static readonly string[] RecCols = UpstreamFormat.Recommendations.Columns.Skip(1).Select(c => c.Name).ToArray();
    static readonly string[] ProfileOwnCols = UpstreamFormat.Profiles.Columns.Skip(1).Select(c => c.Name).ToArray();
    static readonly string[] MonthlyCols = ["arpu_call", "arpu_sms", "arpu_data", "arpu_total"];

    /// subscriber_360_profiles columns besides id, isdn and the timestamps, in table order.
    internal static IReadOnlyList<string> ProfileColumns => ProfileCols;

    static readonly string[] ProfileCols =
    [
        "recommendation_id", "subscriber_type", "service_type", "advance_amount", "revenue_per_advance",
        "arpu_avg_6m", "arpu_std_6m", "arpu_min_6m", "arpu_max_6m", "arpu_first_month", "arpu_last_month",
        "arpu_growth_rate", "arpu_trend", "revenue_call_pct", "revenue_sms_pct", "revenue_data_pct", "user_type",
        "topup_frequency", "topup_avg_amount", "topup_min_amount", "topup_max_amount", "topup_advance_ratio",
        "topup_frequency_class", "bad_debt_risk", "risk_score", "risk_factors", "customer_value_score",
        "advance_readiness_score", "revenue_potential", "cluster_group", "cluster_label", "classification_reason",
        "strengths", "recommendations_text", "profile_date",
    ];

    static string List(IEnumerable<string> cols, string prefix = "") => string.Join(", ", cols.Select(c => prefix + c));

    static readonly string CreateStaging = $"""
        DROP TABLE IF EXISTS stage_rec, stage_profile, stage_monthly, stage_keep, load_changed;
        CREATE TEMP TABLE stage_rec AS SELECT 0 AS ord, isdn, {List(RecCols)} FROM recommendations WITH NO DATA;
        CREATE TEMP TABLE stage_profile AS SELECT 0 AS ord, isdn, {List(ProfileOwnCols)} FROM subscriber_360_profiles WITH NO DATA;
        CREATE TEMP TABLE stage_monthly AS SELECT 0 AS ord, isdn, data_month, {List(MonthlyCols)} FROM subscriber_monthly_arpu WITH NO DATA;
        CREATE TEMP TABLE stage_keep (isdn text COLLATE "C");
        CREATE TEMP TABLE load_changed (isdn text COLLATE "C", tbl "char", deleted boolean);
        """;

    // Each step returns its row count; the CTE that feeds load_changed runs whether or not the
    // outer query reads it (data-modifying WITH clauses always run to completion).
    static readonly string DeleteMonthlySnapshot = """
        WITH d AS (
            DELETE FROM subscriber_monthly_arpu m
            WHERE NOT EXISTS (SELECT 1 FROM stage_monthly s WHERE s.isdn = m.isdn AND s.data_month = m.data_month)
              AND NOT EXISTS (SELECT 1 FROM stage_keep k WHERE k.isdn = m.isdn)
            RETURNING m.isdn),
        c AS (INSERT INTO load_changed SELECT DISTINCT isdn, 'm', false FROM d)
        SELECT count(*) FROM d
        """;

    // Upsert: a given subscriber's rows are replaced for the months the file carries.
    static readonly string DeleteMonthlyUpsert = """
        WITH d AS (
            DELETE FROM subscriber_monthly_arpu m
            WHERE m.isdn IN (SELECT isdn FROM stage_rec)
              AND m.data_month IN (SELECT DISTINCT data_month FROM stage_monthly)
              AND NOT EXISTS (SELECT 1 FROM stage_monthly s WHERE s.isdn = m.isdn AND s.data_month = m.data_month)
            RETURNING m.isdn),
        c AS (INSERT INTO load_changed SELECT DISTINCT isdn, 'm', false FROM d)
        SELECT count(*) FROM d
        """;

    static readonly string DeleteProfiles = """
        WITH d AS (
            DELETE FROM subscriber_360_profiles p
            WHERE NOT EXISTS (SELECT 1 FROM stage_profile s WHERE s.isdn = p.isdn)
              AND NOT EXISTS (SELECT 1 FROM stage_keep k WHERE k.isdn = p.isdn)
            RETURNING p.isdn),
        c AS (INSERT INTO load_changed SELECT isdn, 'p', false FROM d)
        SELECT count(*) FROM d
        """;

    static readonly string DeleteRecs = """
        WITH d AS (
            DELETE FROM recommendations r
            WHERE NOT EXISTS (SELECT 1 FROM stage_rec s WHERE s.isdn = r.isdn)
              AND NOT EXISTS (SELECT 1 FROM stage_keep k WHERE k.isdn = r.isdn)
            RETURNING r.isdn),
        c AS (INSERT INTO load_changed SELECT isdn, 'r', true FROM d)
        SELECT count(*) FROM d
        """;

    static readonly string UpdateRecs = $"""
        WITH u AS (
            UPDATE recommendations r SET ({List(RecCols)}, updated_at) = ({List(RecCols, "s.")}, localtimestamp)
            FROM stage_rec s
            WHERE r.isdn = s.isdn AND ({List(RecCols, "r.")}) IS DISTINCT FROM ({List(RecCols, "s.")})
            RETURNING r.isdn),
        c AS (INSERT INTO load_changed SELECT isdn, 'r', false FROM u)
        SELECT count(*) FROM u
        """;

    static readonly string InsertRecs = $"""
        WITH i AS (
            INSERT INTO recommendations (isdn, {List(RecCols)}, created_at, updated_at)
            SELECT s.isdn, {List(RecCols, "s.")}, localtimestamp, localtimestamp
            FROM stage_rec s
            WHERE NOT EXISTS (SELECT 1 FROM recommendations r WHERE r.isdn = s.isdn)
            ORDER BY s.ord
            RETURNING isdn),
        c AS (INSERT INTO load_changed SELECT isdn, 'r', false FROM i)
        SELECT count(*) FROM i
        """;

    // The profile's copies of the recommendation columns come from the subscriber's
    // recommendation row; recommendation_id from the live row just merged.
    static readonly string BuildProfiles = $"""
        CREATE TEMP TABLE stage_profile_full ON COMMIT DROP AS
        SELECT p.ord, p.isdn, {string.Join(", ", ProfileCols.Select(c =>
            c == "recommendation_id" ? "r.id AS recommendation_id" : ProfileOwnCols.Contains(c) ? "p." + c : "s." + c))}
        FROM stage_profile p
        JOIN stage_rec s ON s.isdn = p.isdn
        JOIN recommendations r ON r.isdn = p.isdn;
        ANALYZE stage_profile_full;
        """;

    static readonly string UpdateProfiles = $"""
        WITH u AS (
            UPDATE subscriber_360_profiles p SET ({List(ProfileCols)}, updated_at) = ({List(ProfileCols, "f.")}, localtimestamp)
            FROM stage_profile_full f
            WHERE p.isdn = f.isdn AND ({List(ProfileCols, "p.")}) IS DISTINCT FROM ({List(ProfileCols, "f.")})
            RETURNING p.isdn),
        c AS (INSERT INTO load_changed SELECT isdn, 'p', false FROM u)
        SELECT count(*) FROM u
        """;

    static readonly string InsertProfiles = $"""
        WITH i AS (
            INSERT INTO subscriber_360_profiles (isdn, {List(ProfileCols)}, created_at, updated_at)
            SELECT f.isdn, {List(ProfileCols, "f.")}, localtimestamp, localtimestamp
            FROM stage_profile_full f
            WHERE NOT EXISTS (SELECT 1 FROM subscriber_360_profiles p WHERE p.isdn = f.isdn)
            ORDER BY f.ord
            RETURNING isdn),
        c AS (INSERT INTO load_changed SELECT isdn, 'p', false FROM i)
        SELECT count(*) FROM i
        """;

    static readonly string UpdateMonthly = $"""
        WITH u AS (
            UPDATE subscriber_monthly_arpu m SET ({List(MonthlyCols)}) = ({List(MonthlyCols, "s.")})
            FROM stage_monthly s
            WHERE m.isdn = s.isdn AND m.data_month = s.data_month
              AND ({List(MonthlyCols, "m.")}) IS DISTINCT FROM ({List(MonthlyCols, "s.")})
            RETURNING m.isdn),
        c AS (INSERT INTO load_changed SELECT DISTINCT isdn, 'm', false FROM u)
        SELECT count(*) FROM u
        """;

    static readonly string InsertMonthly = $"""
        WITH i AS (
            INSERT INTO subscriber_monthly_arpu (isdn, data_month, {List(MonthlyCols)}, created_at)
            SELECT s.isdn, s.data_month, {List(MonthlyCols, "s.")}, localtimestamp
            FROM stage_monthly s
            WHERE NOT EXISTS (SELECT 1 FROM subscriber_monthly_arpu m WHERE m.isdn = s.isdn AND m.data_month = s.data_month)
            ORDER BY s.ord
            RETURNING isdn),
        c AS (INSERT INTO load_changed SELECT DISTINCT isdn, 'm', false FROM i)
        SELECT count(*) FROM i
        """;

    // subscriber_monthly_arpu has no updated_at: a subscriber whose monthly rows changed gets
    // its profile stamped, so an incremental sync (updated_at >= the load's start) rewrites the
    // profile hash that carries the monthly series.
    const string TouchProfilesOfChangedMonthly = """
        UPDATE subscriber_360_profiles p SET updated_at = localtimestamp
        FROM (SELECT DISTINCT isdn FROM load_changed WHERE tbl = 'm') c
        WHERE p.isdn = c.isdn AND p.updated_at IS DISTINCT FROM localtimestamp
        """;

    // Stats for every recommendation_date present in the live data after the merge; rows of
    // other dates are history and stay. Merged like the data so a repeated load changes nothing.
    const string MergeStats = """
        CREATE TEMP TABLE stage_stats ON COMMIT DROP AS
        SELECT d.dimension_type, d.dimension_value, r.recommendation_date AS stats_date,
               count(*)::int AS total_count,
               sum(r.advance_amount) AS total_advance_amount,
               sum(r.revenue_per_advance) AS total_revenue_potential,
               round(avg(r.customer_value_score), 2) AS avg_customer_value_score,
               round(avg(r.advance_readiness_score), 2) AS avg_advance_readiness_score
        FROM recommendations r
        CROSS JOIN LATERAL (VALUES
            ('service', r.service_type),
            ('risk', r.bad_debt_risk),
            ('cluster', COALESCE(r.cluster_group::text, 'none')),
            ('date', r.recommendation_date::text)) AS d(dimension_type, dimension_value)
        GROUP BY 1, 2, 3;

        DELETE FROM recommendation_stats t
        WHERE t.stats_date IN (SELECT DISTINCT stats_date FROM stage_stats)
          AND NOT EXISTS (SELECT 1 FROM stage_stats s
                          WHERE s.dimension_type = t.dimension_type AND s.dimension_value = t.dimension_value
                            AND s.stats_date = t.stats_date);

        UPDATE recommendation_stats t
        SET (total_count, total_advance_amount, total_revenue_potential, avg_customer_value_score, avg_advance_readiness_score)
          = (s.total_count, s.total_advance_amount, s.total_revenue_potential, s.avg_customer_value_score, s.avg_advance_readiness_score)
        FROM stage_stats s
        WHERE s.dimension_type = t.dimension_type AND s.dimension_value = t.dimension_value AND s.stats_date = t.stats_date
          AND (t.total_count, t.total_advance_amount, t.total_revenue_potential, t.avg_customer_value_score, t.avg_advance_readiness_score)
              IS DISTINCT FROM
              (s.total_count, s.total_advance_amount, s.total_revenue_potential, s.avg_customer_value_score, s.avg_advance_readiness_score);

        INSERT INTO recommendation_stats (dimension_type, dimension_value, total_count, total_advance_amount,
            total_revenue_potential, avg_customer_value_score, avg_advance_readiness_score, stats_date, created_at)
        SELECT s.dimension_type, s.dimension_value, s.total_count, s.total_advance_amount, s.total_revenue_potential,
               s.avg_customer_value_score, s.avg_advance_readiness_score, s.stats_date, localtimestamp
        FROM stage_stats s
        WHERE NOT EXISTS (SELECT 1 FROM recommendation_stats t
                          WHERE s.dimension_type = t.dimension_type AND s.dimension_value = t.dimension_value
                            AND s.stats_date = t.stats_date)
        ORDER BY s.stats_date, s.dimension_type, s.dimension_value;

        SELECT count(*) FROM stage_stats;
        """;

    const string FinishLoad = """
        UPDATE data_loads SET
            data_version = @version, source_format = @format, source_files = @files::jsonb,
            rows_recommendations = @rows_rec, rows_profiles = @rows_profile, rows_monthly_arpu = @rows_monthly,
            rows_rejected = @rejected, rows_inserted = @inserted, rows_updated = @updated, rows_deleted = @deleted,
            rejects_file = @rejects, needs_sync = @needs_sync, finished_at = clock_timestamp(),
            outcome = @outcome, message = @message
        WHERE id = @id
        """;

    public async Task<LoadResult> LoadAsync(LoadOptions options, IProgress<LoadProgress>? progress = null, CancellationToken ct = default)
    {
        var timings = new List<(string, TimeSpan)>();
        var clock = Stopwatch.StartNew();
        void Lap(string stage) { timings.Add((stage, clock.Elapsed)); clock.Restart(); }

        var read = LoadReadOptions.From(options);
        var (format, sources) = Locate(options.Directory);
        var hashes = sources.Select(s => Task.Run(() => HashAsync(s.Parts, ct), ct)).ToArray();

        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using (var cmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(@k)", conn) { CommandTimeout = 0 })
        {
            cmd.Parameters.AddWithValue("k", LoadLockKey);
            if (await cmd.ExecuteScalarAsync(ct) is not true)
                throw new LoadCheckException("another load is running against this database; try again when it has finished");
        }
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
            cmd.Parameters.AddWithValue("mode", ModeName(options.Mode));
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
            await RecordFailureAsync(loadId, e is OperationCanceledException ? "cancelled" : e.Message);
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
        await Exec(conn, CreateStaging + StagingChecks.CreateTables, ct);
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
            await using var cmd = FinishCommand(conn, result with { Message = refusal }, "refused", needsSync: false);
            await cmd.ExecuteNonQueryAsync(ct);
            await Exec(conn, DropStaging, ct);
            return result with { Message = refusal, FinishedAt = DateTimeOffset.UtcNow, Timings = timings };
        }

        await Exec(conn, "ANALYZE stage_rec, stage_profile, stage_monthly, stage_keep", ct);
        int recIns, recUpd = 0, recDel = 0, profIns, profUpd = 0, profDel = 0, monIns, monUpd = 0, monDel = 0, statsRows;
        if (await FreshLoad.LiveTablesEmptyAsync(conn, ct))
        {
            progress?.Report(new("indexes and stats", 0, 1));
            await using var tx = await conn.BeginTransactionAsync(ct);
            await Exec(conn, "SET LOCAL work_mem = '256MB'", ct);
            (recIns, profIns, monIns) = await FreshLoad.RunAsync(conn, async () =>
            {
                var r = await Count(conn, InsertRecs, ct);
                await Exec(conn, BuildProfiles, ct);
                var p = await Count(conn, InsertProfiles, ct);
                var m = await Count(conn, InsertMonthly, ct);
                return (r, p, m);
            }, lap, ct);
            statsRows = await Count(conn, MergeStats, ct);
            lap("stats");
            progress?.Report(new("indexes and stats", 1, 1));
            result = await FinishAsync(conn, tx, result, rejectedRows, new(recIns, recUpd, recDel), new(profIns, profUpd, profDel),
                new(monIns, monUpd, monDel), statsRows, ct);
        }
        else
        {
            // Merge: one transaction, ROW EXCLUSIVE locks only; readers are never blocked.
            string[] steps = options.Mode == LoadMode.Snapshot
                ? ["monthly deletes", "profile deletes", "recommendation deletes", "recommendation updates", "recommendation inserts",
                   "profile updates", "profile inserts", "monthly updates", "monthly inserts", "stats"]
                : ["monthly deletes", "recommendation updates", "recommendation inserts",
                   "profile updates", "profile inserts", "monthly updates", "monthly inserts", "stats"];
            var step = 0;
            void Step() => progress?.Report(new("merge", ++step, steps.Length));
            progress?.Report(new("merge", 0, steps.Length));

            await using (var tx = await conn.BeginTransactionAsync(ct))
            {
                await Exec(conn, "SET LOCAL work_mem = '256MB'", ct);
                var (liveRecs, liveMonthly) = await LiveCountsAsync(conn, ct);
                monDel = await Count(conn, options.Mode == LoadMode.Snapshot ? DeleteMonthlySnapshot : DeleteMonthlyUpsert, ct); Step();
                if (options.Mode == LoadMode.Snapshot)
                {
                    profDel = await Count(conn, DeleteProfiles, ct); Step();
                    recDel = await Count(conn, DeleteRecs, ct); Step();
                }
                if (await MassDeletionAsync(conn, options.MaxDeletePercent, recDel, liveRecs, monDel, liveMonthly, ct) is { } guard)
                {
                    await tx.RollbackAsync(ct);
                    await using var cmd = FinishCommand(conn, result with { Message = guard }, "refused", needsSync: false);
                    await cmd.ExecuteNonQueryAsync(ct);
                    await Exec(conn, DropStaging, ct);
                    return result with { Message = guard, FinishedAt = DateTimeOffset.UtcNow, Timings = timings };
                }
                recUpd = await Count(conn, UpdateRecs, ct); Step();
                recIns = await Count(conn, InsertRecs, ct); Step();
                await Exec(conn, BuildProfiles, ct);
                profUpd = await Count(conn, UpdateProfiles, ct); Step();
                profIns = await Count(conn, InsertProfiles, ct); Step();
                monUpd = await Count(conn, UpdateMonthly, ct); Step();
                monIns = await Count(conn, InsertMonthly, ct); Step();
                await Exec(conn, TouchProfilesOfChangedMonthly, ct);
                statsRows = await Count(conn, MergeStats, ct); Step();

                result = await FinishAsync(conn, tx, result, rejectedRows, new(recIns, recUpd, recDel), new(profIns, profUpd, profDel),
                    new(monIns, monUpd, monDel), statsRows, ct);
            }
            lap("merge");
        }
        var changed = new HashSet<string>(StringComparer.Ordinal);
        var deleted = new HashSet<string>(StringComparer.Ordinal);
        int changedCount = 0, deletedCount = 0;
        // The sets grow with the data; a caller that only reports counts does not ask for them.
        var sql = options.ReturnIsdns
            ? "SELECT isdn, bool_or(deleted) FROM load_changed GROUP BY isdn"
            : "SELECT NULL::text, deleted, count(*) FROM (SELECT bool_or(deleted) AS deleted FROM load_changed GROUP BY isdn) c GROUP BY deleted";
        await using (var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 })
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var isDeleted = reader.GetBoolean(1);
                var n = options.ReturnIsdns ? 1 : checked((int)reader.GetInt64(2));
                if (isDeleted) deletedCount += n; else changedCount += n;
                if (options.ReturnIsdns)
                    (isDeleted ? deleted : changed).Add(reader.GetString(0));
            }
        }
        await Exec(conn, DropStaging, ct);
        // No ANALYZE here: autovacuum analyses after large changes, and a fresh load's index
        // builds already give the planner the tables' sizes.
        lap("finish");

        return result with
        {
            ChangedIsdns = changed, DeletedIsdns = deleted, ChangedSubscribers = changedCount, DeletedSubscribers = deletedCount,
            FinishedAt = DateTimeOffset.UtcNow, Timings = timings,
        };
    }

    const string DropStaging = "DROP TABLE IF EXISTS stage_rec, stage_profile, stage_monthly, stage_keep, load_changed, stage_key, stage_problem, stage_recisdn, stage_bad";

    static async Task<(long Recs, long Monthly)> LiveCountsAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT (SELECT count(*) FROM recommendations), (SELECT count(*) FROM subscriber_monthly_arpu)", conn) { CommandTimeout = 0 };
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// The mass-change guard: inside the merge transaction, after the deletes and before
    /// anything is committed. A snapshot that lost its tail in an interrupted copy, or keys
    /// that all changed shape, would otherwise delete history that is still true. Returns the
    /// refusal (what would have been deleted, with examples) or null.
    static async Task<string?> MassDeletionAsync(NpgsqlConnection conn, double maxPercent, int recDel, long liveRecs,
        int monDel, long liveMonthly, CancellationToken ct)
    {
        static bool Over(long deleted, long live, double max) => live > 0 && deleted * 100.0 > max * live;
        if (!Over(recDel, liveRecs, maxPercent) && !Over(monDel, liveMonthly, maxPercent))
            return null;
        var examples = new List<string>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT DISTINCT isdn FROM load_changed WHERE deleted OR tbl = 'm' ORDER BY isdn LIMIT 3", conn) { CommandTimeout = 0 })
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
                examples.Add(reader.GetString(0));
        }
        static string Share(long n, long of) => of == 0 ? "0 %" : (n * 100.0 / of).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) + " %";
        return $"refused: the load would delete {recDel:N0} of {liveRecs:N0} subscribers ({Share(recDel, liveRecs)}) and {monDel:N0} of {liveMonthly:N0} monthly rows "
            + $"({Share(monDel, liveMonthly)}), more than the allowed {maxPercent.ToString(System.Globalization.CultureInfo.InvariantCulture)} % "
            + $"(for example {string.Join(", ", examples)}); nothing was changed. If the files are right, load them with --max-delete-percent 100";
    }

    /// Records the outcome in data_loads inside the load's transaction, so the record and the
    /// data commit together, and commits.
    static async Task<LoadResult> FinishAsync(NpgsqlConnection conn, NpgsqlTransaction tx, LoadResult result, int rejectedRows,
        TableChanges recs, TableChanges profiles, TableChanges monthly, int statsRows, CancellationToken ct)
    {
        result = result with
        {
            Outcome = LoadOutcome.Succeeded,
            Recommendations = recs,
            Profiles = profiles,
            Monthly = monthly,
            StatsRows = statsRows,
        };
        var message = $"loaded: {result.Inserted} inserted, {result.Updated} updated, {result.Deleted} deleted"
            + (rejectedRows > 0 ? $", {rejectedRows} rows rejected" : "");
        result = result with { Message = message };
        await using (var cmd = FinishCommand(conn, result, "succeeded", needsSync: result.Inserted + result.Updated + result.Deleted > 0))
        {
            cmd.Transaction = tx;
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return result;
    }

    static string ModeName(LoadMode mode) => mode == LoadMode.Snapshot ? "snapshot" : "upsert";

    static NpgsqlCommand FinishCommand(NpgsqlConnection conn, LoadResult r, string outcome, bool needsSync)
    {
        var cmd = new NpgsqlCommand(FinishLoad, conn) { CommandTimeout = 0 };
        cmd.Parameters.AddWithValue("id", r.LoadId);
        cmd.Parameters.AddWithValue("version", r.DataVersion);
        cmd.Parameters.AddWithValue("format", r.Format);
        cmd.Parameters.AddWithValue("files", JsonSerializer.Serialize(r.Files.Select(f => new Dictionary<string, object>
        {
            ["name"] = f.Name, ["sha256"] = f.Sha256, ["bytes"] = f.Bytes, ["rows"] = f.Rows,
        })));
        cmd.Parameters.AddWithValue("rows_rec", r.Files[0].Rows);
        cmd.Parameters.AddWithValue("rows_profile", r.Files[1].Rows);
        cmd.Parameters.AddWithValue("rows_monthly", r.Files[2].Rows);
        cmd.Parameters.AddWithValue("rejected", r.RejectedRows);
        cmd.Parameters.AddWithValue("inserted", r.Inserted);
        cmd.Parameters.AddWithValue("updated", r.Updated);
        cmd.Parameters.AddWithValue("deleted", r.Deleted);
        cmd.Parameters.AddWithValue("rejects", (object?)r.RejectsFile ?? DBNull.Value);
        cmd.Parameters.AddWithValue("needs_sync", needsSync);
        cmd.Parameters.AddWithValue("outcome", outcome);
        cmd.Parameters.AddWithValue("message", (object?)r.Message ?? DBNull.Value);
        return cmd;
    }

    async Task RecordFailureAsync(long loadId, string message)
    {
        // On a connection of its own: the load's connection may be the thing that failed.
        try
        {
            await using var conn = await dataSource.OpenConnectionAsync(CancellationToken.None);
            await using var cmd = new NpgsqlCommand("""
                UPDATE data_loads SET outcome = 'failed', finished_at = clock_timestamp(), message = @m
                WHERE id = @id AND outcome = 'running'
                """, conn) { CommandTimeout = 0 };
            cmd.Parameters.AddWithValue("id", loadId);
            cmd.Parameters.AddWithValue("m", message);
            await cmd.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (NpgsqlException)
        {
            // The next load marks a row left 'running' as interrupted.
        }
    }

    /// The three upstream tables, all Parquet or all CSV (Parquet wins when both are there).
    /// A table is a file (`recommendations.parquet`, `.csv`, `.csv.gz`) or a Spark/Hive folder
    /// (`recommendations/` or `recommendations.parquet/`) of part files read as one table.
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

    static async Task Exec(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct);
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

    /// Runs a multi-statement batch and returns the count its last statement selects.
    static async Task<int> Count(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        long value = 0;
        do
        {
            while (await reader.ReadAsync(ct))
                value = reader.GetInt64(0);
        } while (await reader.NextResultAsync(ct));
        return checked((int)value);
    }
}
