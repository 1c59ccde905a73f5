using Npgsql;
using NpgsqlTypes;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// The first load into empty live tables (a new deployment, or after a wipe). Nobody can see a
/// mix of old and new data when there is no old data, so instead of merging through staging
/// this path takes the three tables (ACCESS EXCLUSIVE: readers of the empty tables wait until
/// the commit), truncates them (on a wal_level=minimal server the new rows then skip the WAL),
/// drops their indexes and key constraints, binary COPYs the rows straight in with ids reserved
/// from the tables' own sequences, and rebuilds indexes and constraints under the same names.
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

    /// Runs inside the caller's transaction; returns the rows inserted per table.
    public static async Task<(int Recs, int Profiles, int Monthly, HashSet<string> Isdns)> RunAsync(NpgsqlConnection conn, LoadChecks checks,
        Action<string> step, Action<long> rowsCopied, CancellationToken ct)
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

        var now = DateTime.SpecifyKind(await Scalar<DateTime>(conn, "SELECT now() AT TIME ZONE 'UTC'", ct), DateTimeKind.Unspecified);
        var recs = checks.Recommendations;
        var profiles = checks.Profiles;
        var monthly = checks.Monthly;

        // Ids come from the tables' own sequences, reserved as one block each.
        var recCount = checks.RecRejected.Count(r => !r);
        var recFirst = await Reserve(conn, "recommendations", recCount, ct);
        var recIdByIsdn = new Dictionary<string, long>(recCount, StringComparer.Ordinal);
        var recRowByIsdn = new Dictionary<string, int>(recCount, StringComparer.Ordinal);
        {
            var isdn = recs.Text("isdn");
            var writers = recs.File.Columns.Skip(1).Select(c => StagingCopy.Writer(recs, c)).ToArray();
            var id = recFirst;
            await using var importer = await conn.BeginBinaryImportAsync(
                $"COPY recommendations (id, isdn, {string.Join(", ", recs.File.Columns.Skip(1).Select(c => c.Name))}, created_at, updated_at) FROM STDIN (FORMAT BINARY)", ct);
            importer.Timeout = TimeSpan.FromHours(1); // a big COPY on a busy server is slow, not stuck
            for (var row = 0; row < recs.Rows; row++)
            {
                if (checks.RecRejected[row]) continue;
                recIdByIsdn[isdn[row]!] = id;
                recRowByIsdn[isdn[row]!] = row;
                importer.StartRow();
                importer.Write(id++, NpgsqlDbType.Bigint);
                importer.Write(isdn[row]!, NpgsqlDbType.Text);
                foreach (var w in writers) w(importer, row);
                importer.Write(now, NpgsqlDbType.Timestamp);
                importer.Write(now, NpgsqlDbType.Timestamp);
                if ((row & 0x3FFF) == 0) { rowsCopied(0x4000); ct.ThrowIfCancellationRequested(); }
            }
            await importer.CompleteAsync(ct);
        }
        step("copy recommendations");

        // A profile row is the subscriber's recommendation columns plus the profile file's own.
        var profileCount = checks.ProfileRejected.Count(r => !r);
        var profileFirst = await Reserve(conn, "subscriber_360_profiles", profileCount, ct);
        {
            var isdn = profiles.Text("isdn");
            var own = profiles.File.Columns.Skip(1).ToDictionary(c => c.Name, c => StagingCopy.Writer(profiles, c));
            var fromRec = recs.File.Columns.Skip(1).ToDictionary(c => c.Name, c => StagingCopy.Writer(recs, c));
            var columns = DataLoader.ProfileColumns;
            var id = profileFirst;
            await using var importer = await conn.BeginBinaryImportAsync(
                $"COPY subscriber_360_profiles (id, isdn, {string.Join(", ", columns)}, created_at, updated_at) FROM STDIN (FORMAT BINARY)", ct);
            importer.Timeout = TimeSpan.FromHours(1); // a big COPY on a busy server is slow, not stuck
            for (var row = 0; row < profiles.Rows; row++)
            {
                if (checks.ProfileRejected[row]) continue;
                var key = isdn[row]!;
                var recRow = recRowByIsdn[key];
                importer.StartRow();
                importer.Write(id++, NpgsqlDbType.Bigint);
                importer.Write(key, NpgsqlDbType.Text);
                foreach (var c in columns)
                {
                    if (c == "recommendation_id") importer.Write(recIdByIsdn[key], NpgsqlDbType.Bigint);
                    else if (own.TryGetValue(c, out var w)) w(importer, row);
                    else fromRec[c](importer, recRow);
                }
                importer.Write(now, NpgsqlDbType.Timestamp);
                importer.Write(now, NpgsqlDbType.Timestamp);
                if ((row & 0x3FFF) == 0) { rowsCopied(0x4000); ct.ThrowIfCancellationRequested(); }
            }
            await importer.CompleteAsync(ct);
        }
        step("copy profiles");

        var monthlyCount = checks.MonthlyRejected.Count(r => !r);
        var monthlyFirst = await Reserve(conn, "subscriber_monthly_arpu", monthlyCount, ct);
        {
            var writers = monthly.File.Columns.Select(c => StagingCopy.Writer(monthly, c)).ToArray();
            var id = monthlyFirst;
            await using var importer = await conn.BeginBinaryImportAsync(
                $"COPY subscriber_monthly_arpu (id, {string.Join(", ", monthly.File.Columns.Select(c => c.Name))}, created_at) FROM STDIN (FORMAT BINARY)", ct);
            importer.Timeout = TimeSpan.FromHours(1); // a big COPY on a busy server is slow, not stuck
            for (var row = 0; row < monthly.Rows; row++)
            {
                if (checks.MonthlyRejected[row]) continue;
                importer.StartRow();
                importer.Write(id++, NpgsqlDbType.Bigint);
                foreach (var w in writers) w(importer, row);
                importer.Write(now, NpgsqlDbType.Timestamp);
                if ((row & 0x3FFF) == 0) { rowsCopied(0x4000); ct.ThrowIfCancellationRequested(); }
            }
            await importer.CompleteAsync(ct);
        }
        step("copy monthly");

        foreach (var i in indexes)
            await Exec(conn, i.Definition, ct);
        foreach (var c in constraints.Where(c => c.Type != "f"))
            await Exec(conn, $"ALTER TABLE {c.Table} ADD CONSTRAINT {c.Name} {c.Definition}", ct);
        foreach (var c in constraints.Where(c => c.Type == "f"))
            await Exec(conn, $"ALTER TABLE {c.Table} ADD CONSTRAINT {c.Name} {c.Definition}", ct);
        step("build indexes");

        return (recCount, profileCount, monthlyCount, new HashSet<string>(recIdByIsdn.Keys, StringComparer.Ordinal));
    }

    /// Takes `count` consecutive values of the table's id sequence and returns the first.
    static async Task<long> Reserve(NpgsqlConnection conn, string table, int count, CancellationToken ct)
    {
        if (count == 0)
            return 1;
        await using var cmd = new NpgsqlCommand("""
            WITH s AS (SELECT pg_get_serial_sequence(@t, 'id') AS seq),
                 first AS (SELECT nextval(seq::regclass) AS v, seq FROM s)
            SELECT v, setval(seq::regclass, v + @n - 1) FROM first
            """, conn) { CommandTimeout = 0 };
        cmd.Parameters.AddWithValue("t", table);
        cmd.Parameters.AddWithValue("n", (long)count);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return reader.GetInt64(0);
    }

    static async Task<T> Scalar<T>(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        return (T)(await cmd.ExecuteScalarAsync(ct))!;
    }

    static async Task Exec(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
