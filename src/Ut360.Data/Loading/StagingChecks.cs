using System.Text;
using Npgsql;
using NpgsqlTypes;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// The whole-data-set half of the checks, in PostgreSQL staging so that memory does not grow
/// with the data: while the files are read, every batch's accepted rows go to the staging
/// tables, the keys (ISDN, and month for monthly rows) of its rejected rows to
/// `stage_rejected_key`, and every problem to `stage_problem`; the view `stage_key` is every
/// row's key, accepted or not. Then SQL finds duplicate and unknown ISDNs and duplicate months,
/// spreads a refusal to all rows of its subscriber (`stage_bad`, the subscribers kept as they
/// were), and removes every refused row from staging. The rejects file and the top causes are
/// read back from `stage_problem`.
sealed class StagingChecks(NpgsqlConnection conn, IReadOnlyList<string> fileNames)
{
    // The accepted rows' keys are read from the staging tables rather than copied a second time
    // (5.8 million key rows at 3x: the COPY and its client-side encoding cost more than the
    // checks' scans of the wider staging tables). `f` is a constant per branch, so a query on
    // one file's keys scans only that file's tables.
    public const string CreateTables = """
        DROP VIEW IF EXISTS stage_key;
        DROP TABLE IF EXISTS stage_rejected_key, stage_problem, stage_recisdn, stage_bad;
        CREATE TEMP TABLE stage_rejected_key (f "char", ord int, isdn text COLLATE "C", month text);
        CREATE TEMP TABLE stage_problem (seq bigint GENERATED ALWAYS AS IDENTITY, file text COLLATE "C", row int,
            col text, value text, reason text, reason_key text);
        CREATE TEMP VIEW stage_key AS
            SELECT 'r'::"char" AS f, ord, isdn::text COLLATE "C" AS isdn, NULL::text AS month FROM stage_rec
            UNION ALL SELECT 'p'::"char", ord, isdn::text COLLATE "C", NULL::text FROM stage_profile
            UNION ALL SELECT 'm'::"char", ord, isdn::text COLLATE "C", data_month::text FROM stage_monthly
            UNION ALL SELECT f, ord, isdn, month FROM stage_rejected_key;
        """;

    static readonly string[] StagingTables = ["stage_rec", "stage_profile", "stage_monthly"];
    static readonly char[] Tags = ['r', 'p', 'm'];

    public long TotalRows { get; private set; }

    /// Stages one checked batch of file <paramref name="f"/> (0 recommendations, 1 profiles, 2 monthly).
    public async Task StageAsync(int f, UpstreamTable batch, bool[] rejected, List<RejectedRow> problems, CancellationToken ct)
    {
        TotalRows += batch.Rows;
        await StagingCopy.CopyAsync(conn, StagingTables[f], batch, rejected, ct);

        var isdn = batch.Text("isdn");
        var month = f == 2 ? batch.Text("data_month") : null;
        if (problems.Count == 0)
            return;
        await using (var keys = await conn.BeginBinaryImportAsync("COPY stage_rejected_key (f, ord, isdn, month) FROM STDIN (FORMAT BINARY)", ct))
        {
            keys.Timeout = TimeSpan.FromHours(1);
            for (var i = 0; i < batch.Rows; i++)
            {
                // A key that PostgreSQL text cannot hold matches nothing; its row is rejected anyway.
                if (!rejected[i] || isdn[i] is not { Length: > 0 } key || key.Contains('\0'))
                    continue;
                await keys.StartRowAsync(ct);
                await keys.WriteAsync(Tags[f], NpgsqlDbType.InternalChar, ct);
                await keys.WriteAsync(checked((int)(batch.FirstRow + i)), NpgsqlDbType.Integer, ct);
                await keys.WriteAsync(key, NpgsqlDbType.Text, ct);
                if (month?[i] is { } m && !m.Contains('\0'))
                    await keys.WriteAsync(m, NpgsqlDbType.Text, ct);
                else
                    await keys.WriteNullAsync(ct);
            }
            await keys.CompleteAsync(ct);
        }
        await using (var copy = await conn.BeginBinaryImportAsync(
            "COPY stage_problem (file, row, col, value, reason, reason_key) FROM STDIN (FORMAT BINARY)", ct))
        {
            copy.Timeout = TimeSpan.FromHours(1);
            foreach (var p in problems)
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(p.File, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(p.Row, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(p.Column, NpgsqlDbType.Text, ct);
                if (Shown(p.Value) is { } v) await copy.WriteAsync(v, NpgsqlDbType.Text, ct); else await copy.WriteNullAsync(ct);
                await copy.WriteAsync(p.Reason, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(LoadChecks.ReasonKey(p.Reason), NpgsqlDbType.Text, ct);
            }
            await copy.CompleteAsync(ct);
        }
        problems.Clear();
    }

    // The rejects file shows at most 200 characters of a value; PostgreSQL text holds no NUL.
    static string? Shown(string? value)
    {
        if (value is null)
            return null;
        if (value.Length > 200)
            value = value[..200] + "…";
        return value.Contains('\0') ? value.Replace("\0", "\\0", StringComparison.Ordinal) : value;
    }

    string Name(int f) => fileNames[f];

    string FileOf(string alias) => $"CASE {alias}.f WHEN 'r' THEN @rf WHEN 'p' THEN @pf ELSE @mf END";

    const string FileOrder = "CASE k.f WHEN 'r' THEN 0 WHEN 'p' THEN 1 ELSE 2 END";

    /// Runs the key checks and the cascade; returns the rejected rows, the subscribers kept as
    /// they were, and the recommendation rows left to load.
    public async Task<(int RejectedRows, int RejectedSubscribers, long AcceptedRecommendations)> RunAsync(CancellationToken ct)
    {
        await Exec("""
            SET work_mem = '512MB';
            -- The keys' statistics only: the checks group and join on nothing else (all columns
            -- of the wide staging tables took 3 s of ANALYZE at 1x; the merge analyses them itself).
            ANALYZE stage_rec (isdn), stage_profile (isdn), stage_monthly (isdn, data_month), stage_rejected_key;
            CREATE TEMP TABLE stage_recisdn AS SELECT isdn, count(*) AS n FROM stage_key WHERE f = 'r' GROUP BY isdn;
            ANALYZE stage_recisdn;

            -- Every copy of a duplicate: which one is right is unknown.
            INSERT INTO stage_problem (file, row, col, value, reason, reason_key)
            SELECT @rf, k.ord + 1, 'isdn', k.isdn, 'duplicate ISDN', 'duplicate ISDN'
            FROM stage_key k JOIN stage_recisdn r ON r.isdn = k.isdn AND r.n > 1
            WHERE k.f = 'r' ORDER BY k.ord;

            INSERT INTO stage_problem (file, row, col, value, reason, reason_key)
            SELECT file, ord + 1, 'isdn', isdn, reason, reason FROM (
                SELECT CASE k.f WHEN 'p' THEN @pf ELSE @mf END AS file, k.f, k.ord, k.isdn,
                       'unknown ISDN: no row in recommendations' AS reason
                FROM stage_key k
                WHERE k.f IN ('p', 'm') AND NOT EXISTS (SELECT 1 FROM stage_recisdn r WHERE r.isdn = k.isdn)
                UNION ALL
                SELECT @pf, k.f, k.ord, k.isdn, 'duplicate ISDN'
                FROM stage_key k
                JOIN (SELECT p.isdn FROM stage_key p WHERE p.f = 'p' GROUP BY p.isdn HAVING count(*) > 1) d ON d.isdn = k.isdn
                WHERE k.f = 'p' AND EXISTS (SELECT 1 FROM stage_recisdn r WHERE r.isdn = k.isdn)) x
            ORDER BY f, ord;

            -- A repeated (ISDN, month): each later row names the first, the first names the second.
            INSERT INTO stage_problem (file, row, col, value, reason, reason_key)
            SELECT @mf, ord + 1, 'data_month', month,
                   'duplicate month for this ISDN (also row ' || (CASE WHEN ord = first THEN second ELSE first END) + 1 || ')',
                   'duplicate month for this ISDN'
            FROM (SELECT k.ord, k.month, min(k.ord) OVER w AS first,
                         nth_value(k.ord, 2) OVER (w ORDER BY k.ord ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS second
                  FROM stage_key k
                  JOIN (SELECT m.isdn, m.month FROM stage_key m
                        WHERE m.f = 'm' AND m.month IS NOT NULL
                        GROUP BY m.isdn, m.month HAVING count(*) > 1) d ON d.isdn = k.isdn AND d.month = k.month
                  WHERE k.f = 'm' AND EXISTS (SELECT 1 FROM stage_recisdn r WHERE r.isdn = k.isdn)
                  WINDOW w AS (PARTITION BY k.isdn, k.month)) x
            ORDER BY ord;

            ANALYZE stage_problem;
            """, ct);

        // The subscriber is the unit of rejection: the first problem of a known subscriber (in
        // recommendations, then profiles, then monthly order) refuses all its rows.
        await Exec($"""
            CREATE TEMP TABLE stage_bad AS
            SELECT DISTINCT ON (k.isdn) k.isdn, {FileOf("k")} || ' row ' || (k.ord + 1) AS origin
            FROM stage_key k
            JOIN (SELECT DISTINCT file, row FROM stage_problem) p ON p.file = {FileOf("k")} AND p.row = k.ord + 1
            WHERE EXISTS (SELECT 1 FROM stage_recisdn r WHERE r.isdn = k.isdn)
            ORDER BY k.isdn, {FileOrder}, k.ord;
            ANALYZE stage_bad;

            INSERT INTO stage_problem (file, row, col, value, reason, reason_key)
            SELECT {FileOf("k")}, k.ord + 1, 'isdn', k.isdn, '{LoadChecks.CascadeReason}' || b.origin, NULL
            FROM stage_key k JOIN stage_bad b ON b.isdn = k.isdn
            WHERE NOT EXISTS (SELECT 1 FROM stage_problem p WHERE p.file = {FileOf("k")} AND p.row = k.ord + 1)
            ORDER BY {FileOrder}, k.ord;

            DELETE FROM stage_rec s USING (SELECT DISTINCT row FROM stage_problem WHERE file = @rf) p WHERE p.row = s.ord + 1;
            DELETE FROM stage_profile s USING (SELECT DISTINCT row FROM stage_problem WHERE file = @pf) p WHERE p.row = s.ord + 1;
            DELETE FROM stage_monthly s USING (SELECT DISTINCT row FROM stage_problem WHERE file = @mf) p WHERE p.row = s.ord + 1;
            INSERT INTO stage_keep (isdn) SELECT isdn FROM stage_bad;
            RESET work_mem;
            """, ct);

        await using var cmd = Command("""
            SELECT (SELECT count(*) FROM (SELECT DISTINCT file, row FROM stage_problem) p),
                   (SELECT count(*) FROM stage_bad),
                   (SELECT count(*) FROM stage_rec)
            """);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (checked((int)reader.GetInt64(0)), checked((int)reader.GetInt64(1)), reader.GetInt64(2));
    }

    /// The most frequent reasons, most frequent first; rows refused only because another row of
    /// their subscriber was are left out.
    public async Task<IReadOnlyList<RejectCause>> TopCausesAsync(int count, CancellationToken ct)
    {
        await using var cmd = Command("""
            SELECT file, col, reason_key, count(*) FROM stage_problem WHERE reason_key IS NOT NULL
            GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2 LIMIT @n
            """);
        cmd.Parameters.AddWithValue("n", count);
        var causes = new List<RejectCause>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            causes.Add(new(reader.GetString(0), reader.GetString(1), reader.GetString(2), checked((int)reader.GetInt64(3))));
        return causes;
    }

    /// The rejects file: `file,row,column,value,reason`, by file and row, streamed from staging.
    public async Task WriteRejectsAsync(string path, CancellationToken ct)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
            Directory.CreateDirectory(dir);
        await using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        await writer.WriteAsync("file,row,column,value,reason\n".AsMemory(), ct);
        using var export = await conn.BeginTextExportAsync(
            "COPY (SELECT file, row, col, value, reason FROM stage_problem ORDER BY file, row, seq) TO STDOUT (FORMAT csv)", ct);
        var buffer = new char[1 << 16];
        int n;
        while ((n = await export.ReadAsync(buffer, ct)) > 0)
            await writer.WriteAsync(buffer.AsMemory(0, n), ct);
    }

    NpgsqlCommand Command(string sql)
    {
        var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 0 };
        cmd.Parameters.AddWithValue("rf", Name(0));
        cmd.Parameters.AddWithValue("pf", Name(1));
        cmd.Parameters.AddWithValue("mf", Name(2));
        return cmd;
    }

    async Task Exec(string sql, CancellationToken ct)
    {
        await using var cmd = Command(sql);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
