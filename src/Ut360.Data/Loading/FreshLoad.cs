using Npgsql;

namespace Ut360.Data.Loading;

/// The first load into empty live tables (a new deployment, or after a wipe). Nobody can see a
/// mix of old and new data when there is no old data, so instead of merging through staging
/// this path takes the three tables (ACCESS EXCLUSIVE: readers of the empty tables wait until
/// the commit), truncates them (on a wal_level=minimal server the new rows then skip the WAL),
/// drops their indexes and key constraints, inserts the staged rows in file order, and rebuilds
/// indexes and constraints under the same names.
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

    /// Runs inside the caller's transaction: <paramref name="insert"/> moves the staged rows
    /// into the stripped tables and returns the rows inserted per table.
    public static async Task<(int Recs, int Profiles, int Monthly)> RunAsync(NpgsqlConnection conn,
        Func<Task<(int Recs, int Profiles, int Monthly)>> insert, Action<string> step, CancellationToken ct)
    {
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

        // The rows come from staging in file order, so the ids the sequences hand out follow the
        // files whatever format they came in.
        var counts = await insert();
        step("insert");

        foreach (var i in indexes)
            await Exec(conn, i.Definition, ct);
        foreach (var c in constraints.Where(c => c.Type != "f"))
            await Exec(conn, $"ALTER TABLE {c.Table} ADD CONSTRAINT {c.Name} {c.Definition}", ct);
        foreach (var c in constraints.Where(c => c.Type == "f"))
            await Exec(conn, $"ALTER TABLE {c.Table} ADD CONSTRAINT {c.Name} {c.Definition}", ct);
        step("build indexes");

        return counts;
    }

    static async Task Exec(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
