using Npgsql;
using static Ut360.Data.Loading.Staging;

namespace Ut360.Data.Loading;

/// The first load into empty live tables (a new deployment, or after a wipe). Nobody can see a
/// mix of old and new data when there is no old data, so instead of merging through staging
/// this path takes the three tables (ACCESS EXCLUSIVE: readers of the empty tables wait until
/// the commit), truncates them (on a wal_level=minimal server the new rows then skip the WAL),
/// drops their indexes and key constraints, inserts the staged rows with ids in file order, and
/// rebuilds indexes and constraints under the same names.
/// All in one transaction: a failure or a kill leaves the empty tables and their indexes.
static class FreshLoad
{
    static readonly string[] LiveTables = ["recommendations", "subscriber_360_profiles", "subscriber_monthly_arpu"];

    const string LockAndCheck = """
        LOCK TABLE recommendations, subscriber_360_profiles, subscriber_monthly_arpu IN ACCESS EXCLUSIVE MODE;
        SELECT NOT EXISTS (SELECT 1 FROM recommendations) AND NOT EXISTS (SELECT 1 FROM subscriber_360_profiles)
           AND NOT EXISTS (SELECT 1 FROM subscriber_monthly_arpu);
        """;

    const string KeyConstraints = """
        SELECT c.conrelid::regclass::text, quote_ident(c.conname), pg_get_constraintdef(c.oid), c.contype::text
        FROM pg_constraint c
        WHERE c.conrelid = ANY (@tables::regclass[]) AND c.contype IN ('p', 'u', 'f')
        ORDER BY c.contype = 'f' DESC, c.oid
        """;

    const string PlainIndexes = """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY (@tables::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
        ORDER BY i.indexrelid
        """;

    public static async Task<bool> LiveTablesEmptyAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT NOT EXISTS (SELECT 1 FROM recommendations) AND NOT EXISTS (SELECT 1 FROM subscriber_360_profiles)
               AND NOT EXISTS (SELECT 1 FROM subscriber_monthly_arpu)
            """, conn) { CommandTimeout = 0 };
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    // Ids are given, not drawn row by row: each row's id is the table's sequence position at
    // the start plus its row number in the file, so ids follow the files (whatever format they
    // came in) without sorting the staged rows, and a rejected row leaves a gap.
    const string ReserveIds = """
        SELECT nextval(pg_get_serial_sequence('recommendations', 'id')) - 1,
               nextval(pg_get_serial_sequence('subscriber_360_profiles', 'id')) - 1,
               nextval(pg_get_serial_sequence('subscriber_monthly_arpu', 'id')) - 1
        """;

    const string AdvanceSequences = """
        SELECT setval(pg_get_serial_sequence('recommendations', 'id'), @r, false),
               setval(pg_get_serial_sequence('subscriber_360_profiles', 'id'), @p, false),
               setval(pg_get_serial_sequence('subscriber_monthly_arpu', 'id'), @m, false)
        """;

    const string Now = "(now() AT TIME ZONE 'UTC')";

    static readonly string InsertRecs = $"""
        INSERT INTO recommendations (id, isdn, {List(RecCols)}, created_at, updated_at)
        SELECT @r + s.ord + 1, s.isdn, {List(RecCols, "s.")}, {Now}, {Now}
        FROM stage_rec s
        """;

    // The profile's copies of the recommendation columns come from the subscriber's
    // recommendation row, recommendation_id from that row's id (every staged profile has one:
    // the checks refuse profile rows of unknown subscribers).
    // Profiles and months are inserted in ISDN order, and PostgreSQL stores them near that order
    // (0.1 % of the rows after a greater ISDN at 214,504 subscribers; ids still follow the files'
    // rows): the sync reads them by ISDN range, and in file order a range of 50,000 subscribers
    // touched blocks all over the table, so each block was read again by most ranges: at 10x the
    // design's dataset a range of months read 48,681 blocks of the 204,000-block table, and the
    // profile stream took 11.7x its 1x time (bench/results/scale.md).
    static readonly string InsertProfiles = $"""
        INSERT INTO subscriber_360_profiles (id, isdn, {List(ProfileCols)}, created_at, updated_at)
        SELECT @p + p.ord + 1, p.isdn, {string.Join(", ", ProfileCols.Select(c =>
            c == "recommendation_id" ? "@r + s.ord + 1" : ProfileOwnCols.Contains(c) ? "p." + c : "s." + c))}, {Now}, {Now}
        FROM stage_profile p
        JOIN stage_rec s ON s.isdn = p.isdn
        ORDER BY p.isdn
        """;

    static readonly string InsertMonthly = $"""
        INSERT INTO subscriber_monthly_arpu (id, isdn, data_month, {List(MonthlyCols)}, created_at)
        SELECT @m + s.ord + 1, s.isdn, s.data_month, {List(MonthlyCols, "s.")}, {Now}
        FROM stage_monthly s
        ORDER BY s.isdn, s.data_month
        """;

    // Every subscriber of a fresh load is new, and Redis may still hold subscribers of the data
    // wiped before it: one marker row instead of one row per ISDN (643,512 rows with their key
    // and foreign-key checks took 7-12 s at 3x), which the incremental sync answers with a full
    // sync (that also deletes the wiped subscribers' keys).
    const string RecordChanges = "INSERT INTO load_changes (load_id, isdn, deleted) VALUES (@id, @everything, false)";

    /// Loads the staged rows into the empty live tables and commits. <paramref name="step"/>
    /// marks the end of each phase (for the timings).
    public static async Task<LoadResult> RunAsync(NpgsqlConnection conn, LoadResult result,
        IProgress<LoadProgress>? progress, Action<string> step, CancellationToken ct)
    {
        progress?.Report(new("indexes and stats", 0, 1));
        await using var tx = await conn.BeginTransactionAsync(ct);
        await Exec(conn, "SET LOCAL work_mem = '256MB'", ct);
        await using (var cmd = new NpgsqlCommand(LockAndCheck, conn) { CommandTimeout = 0 })
        {
            if (await cmd.ExecuteScalarAsync(ct) is not true)
                throw new LoadCheckException("the live tables received rows while this load was being prepared; run the load again");
        }
        await Exec(conn, "TRUNCATE recommendations, subscriber_360_profiles, subscriber_monthly_arpu", ct);
        await Exec(conn, "SET LOCAL maintenance_work_mem = '512MB'", ct);

        var constraints = new List<(string Table, string Name, string Definition, string Type)>();
        await using (var cmd = new NpgsqlCommand(KeyConstraints, conn) { CommandTimeout = 0 })
        {
            cmd.Parameters.AddWithValue("tables", LiveTables);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                constraints.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }
        var indexes = new List<(string Name, string Definition)>();
        await using (var cmd = new NpgsqlCommand(PlainIndexes, conn) { CommandTimeout = 0 })
        {
            cmd.Parameters.AddWithValue("tables", LiveTables);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                indexes.Add((reader.GetString(0), reader.GetString(1)));
        }
        // Foreign keys first (they depend on the primary key they reference), then keys, then indexes.
        foreach (var c in constraints)
            await Exec(conn, $"ALTER TABLE {c.Table} DROP CONSTRAINT {c.Name}", ct);
        foreach (var i in indexes)
            await Exec(conn, $"DROP INDEX {i.Name}", ct);
        step("drop indexes");

        long r, p, m;
        await using (var cmd = new NpgsqlCommand(ReserveIds, conn) { CommandTimeout = 0 })
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            (r, p, m) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }
        var recs = await InsertAsync(conn, InsertRecs, r, p, m, ct);
        var profiles = await InsertAsync(conn, InsertProfiles, r, p, m, ct);
        var monthly = await InsertAsync(conn, InsertMonthly, r, p, m, ct);
        // Past every id handed out (a rejected last row included).
        await using (var cmd = new NpgsqlCommand(AdvanceSequences, conn) { CommandTimeout = 0 })
        {
            cmd.Parameters.AddWithValue("r", r + result.Files[0].Rows + 1);
            cmd.Parameters.AddWithValue("p", p + result.Files[1].Rows + 1);
            cmd.Parameters.AddWithValue("m", m + result.Files[2].Rows + 1);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        step("insert");

        foreach (var i in indexes)
            await Exec(conn, i.Definition, ct);
        foreach (var c in constraints.Where(c => c.Type != "f"))
            await Exec(conn, $"ALTER TABLE {c.Table} ADD CONSTRAINT {c.Name} {c.Definition}", ct);
        foreach (var c in constraints.Where(c => c.Type == "f"))
            await Exec(conn, $"ALTER TABLE {c.Table} ADD CONSTRAINT {c.Name} {c.Definition}", ct);
        step("build indexes");

        var statsRows = await Count(conn, LoadStats.Merge, ct);
        step("stats");
        progress?.Report(new("indexes and stats", 1, 1));
        await using (var cmd = new NpgsqlCommand(RecordChanges, conn) { CommandTimeout = 0 })
        {
            cmd.Parameters.AddWithValue("id", result.LoadId);
            cmd.Parameters.AddWithValue("everything", LoadChanges.Everything);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        return await LoadRecord.FinishAsync(conn, tx, result, new(recs, 0, 0), new(profiles, 0, 0), new(monthly, 0, 0), statsRows, ct);
    }

    /// Every subscriber loaded is changed, none deleted; the ISDNs (when asked for) from staging.
    public static async Task<ChangeSet> ChangesAsync(NpgsqlConnection conn, LoadResult result, bool withIsdns, CancellationToken ct)
    {
        var changes = new ChangeSet { ChangedCount = result.Recommendations.Inserted };
        if (!withIsdns)
            return changes;
        await using var cmd = new NpgsqlCommand("SELECT isdn FROM stage_rec", conn) { CommandTimeout = 0 };
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            changes.Changed.Add(reader.GetString(0));
        return changes;
    }

    static async Task<int> InsertAsync(NpgsqlConnection conn, string sql, long r, long p, long m, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        cmd.Parameters.AddWithValue("r", r);
        cmd.Parameters.AddWithValue("p", p);
        cmd.Parameters.AddWithValue("m", m);
        return await cmd.ExecuteNonQueryAsync(ct);
    }
}
