using Npgsql;
using static Ut360.Data.Loading.Staging;

namespace Ut360.Data.Loading;

/// A load into live tables that hold data (docs/loading.md, "Merge"): one transaction that
/// deletes missing rows (snapshot) or the replaced months (upsert), stops at the mass-change
/// guard, updates changed rows only, inserts new ones and records every subscriber touched in
/// load_changes. Its statements take ROW EXCLUSIVE locks only: readers are never blocked and
/// see the old data until the commit, the new data after it, never a mix.
static class MergeLoad
{
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
            UPDATE recommendations r SET ({List(RecCols)}, updated_at) = ({List(RecCols, "s.")}, (now() AT TIME ZONE 'UTC'))
            FROM stage_rec s
            WHERE r.isdn = s.isdn AND ({List(RecCols, "r.")}) IS DISTINCT FROM ({List(RecCols, "s.")})
            RETURNING r.isdn),
        c AS (INSERT INTO load_changed SELECT isdn, 'r', false FROM u)
        SELECT count(*) FROM u
        """;

    static readonly string InsertRecs = $"""
        WITH i AS (
            INSERT INTO recommendations (isdn, {List(RecCols)}, created_at, updated_at)
            SELECT s.isdn, {List(RecCols, "s.")}, (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC')
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
            UPDATE subscriber_360_profiles p SET ({List(ProfileCols)}, updated_at) = ({List(ProfileCols, "f.")}, (now() AT TIME ZONE 'UTC'))
            FROM stage_profile_full f
            WHERE p.isdn = f.isdn AND ({List(ProfileCols, "p.")}) IS DISTINCT FROM ({List(ProfileCols, "f.")})
            RETURNING p.isdn),
        c AS (INSERT INTO load_changed SELECT isdn, 'p', false FROM u)
        SELECT count(*) FROM u
        """;

    static readonly string InsertProfiles = $"""
        WITH i AS (
            INSERT INTO subscriber_360_profiles (isdn, {List(ProfileCols)}, created_at, updated_at)
            SELECT f.isdn, {List(ProfileCols, "f.")}, (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC')
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
            SELECT s.isdn, s.data_month, {List(MonthlyCols, "s.")}, (now() AT TIME ZONE 'UTC')
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
        UPDATE subscriber_360_profiles p SET updated_at = (now() AT TIME ZONE 'UTC')
        FROM (SELECT DISTINCT isdn FROM load_changed WHERE tbl = 'm') c
        WHERE p.isdn = c.isdn AND p.updated_at IS DISTINCT FROM (now() AT TIME ZONE 'UTC')
        """;


    // The change set an incremental sync and the dual write push (table load_changes), inside
    // the load's transaction so it commits with the rows.
    const string RecordMergedChanges = """
        INSERT INTO load_changes (load_id, isdn, deleted)
        SELECT @id, isdn, bool_or(deleted) FROM load_changed GROUP BY isdn
        """;

    /// Merges the staged rows and commits; a result with outcome Refused when the mass-change
    /// guard stopped it (rolled back, recorded as refused).
    public static async Task<LoadResult> RunAsync(NpgsqlConnection conn, LoadResult result, LoadOptions options,
        IProgress<LoadProgress>? progress, CancellationToken ct)
    {
        await Exec(conn, "ANALYZE stage_rec, stage_profile, stage_monthly, stage_keep", ct);
        int recIns, recUpd, recDel = 0, profIns, profUpd, profDel = 0, monIns, monUpd, monDel, statsRows;
        string[] steps = options.Mode == LoadMode.Snapshot
            ? ["monthly deletes", "profile deletes", "recommendation deletes", "recommendation updates", "recommendation inserts",
               "profile updates", "profile inserts", "monthly updates", "monthly inserts", "stats"]
            : ["monthly deletes", "recommendation updates", "recommendation inserts",
               "profile updates", "profile inserts", "monthly updates", "monthly inserts", "stats"];
        var step = 0;
        void Step() => progress?.Report(new("merge", ++step, steps.Length));
        progress?.Report(new("merge", 0, steps.Length));

        await using var tx = await conn.BeginTransactionAsync(ct);
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
            await LoadRecord.RefuseAsync(conn, result, guard, ct);
            return result with { Message = guard };
        }
        recUpd = await Count(conn, UpdateRecs, ct); Step();
        recIns = await Count(conn, InsertRecs, ct); Step();
        await Exec(conn, BuildProfiles, ct);
        profUpd = await Count(conn, UpdateProfiles, ct); Step();
        profIns = await Count(conn, InsertProfiles, ct); Step();
        monUpd = await Count(conn, UpdateMonthly, ct); Step();
        monIns = await Count(conn, InsertMonthly, ct); Step();
        await Exec(conn, TouchProfilesOfChangedMonthly, ct);
        statsRows = await Count(conn, LoadStats.Merge, ct); Step();
        await using (var cmd = new NpgsqlCommand(RecordMergedChanges, conn) { CommandTimeout = 0 })
        {
            cmd.Parameters.AddWithValue("id", result.LoadId);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        return await LoadRecord.FinishAsync(conn, tx, result, new(recIns, recUpd, recDel), new(profIns, profUpd, profDel),
            new(monIns, monUpd, monDel), statsRows, ct);
    }

    /// The subscribers the merge changed and deleted (from load_changed, before it is dropped);
    /// the sets only when asked for, they grow with the data.
    public static async Task<ChangeSet> ChangesAsync(NpgsqlConnection conn, bool withIsdns, CancellationToken ct)
    {
        var changes = new ChangeSet();
        var sql = withIsdns
            ? "SELECT isdn, bool_or(deleted) FROM load_changed GROUP BY isdn"
            : "SELECT NULL::text, deleted, count(*) FROM (SELECT bool_or(deleted) AS deleted FROM load_changed GROUP BY isdn) c GROUP BY deleted";
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var isDeleted = reader.GetBoolean(1);
            var n = withIsdns ? 1 : checked((int)reader.GetInt64(2));
            if (isDeleted) changes.DeletedCount += n; else changes.ChangedCount += n;
            if (withIsdns)
                (isDeleted ? changes.Deleted : changes.Changed).Add(reader.GetString(0));
        }
        return changes;
    }

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
}
