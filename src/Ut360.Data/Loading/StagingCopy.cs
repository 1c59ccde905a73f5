using Npgsql;
using NpgsqlTypes;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// Writes the accepted rows of a batch of an upstream table into its session-local staging table with
/// binary COPY. Staging tables have the upstream file's columns (typed like the live ones)
/// plus `ord`, the row's position in the file, so inserts keep the file's order and the ids
/// of a fresh load follow it whatever format the files came in.
static class StagingCopy
{
    /// Copies the accepted rows of one batch; `ord` is the row's position in the whole table.
    public static async Task<int> CopyAsync(NpgsqlConnection conn, string stagingTable, UpstreamTable table, bool[] rejected,
        CancellationToken ct)
    {
        var columns = table.File.Columns;
        var writers = columns.Select(c => Writer(table, c)).ToArray();
        var sql = $"COPY {stagingTable} (ord, {string.Join(", ", columns.Select(c => c.Name))}) FROM STDIN (FORMAT BINARY)";
        var copied = 0;
        await using (var importer = await conn.BeginBinaryImportAsync(sql, ct))
        {
            importer.Timeout = TimeSpan.FromHours(1); // a big COPY on a busy server is slow, not stuck
            for (var row = 0; row < table.Rows; row++)
            {
                if (rejected[row])
                    continue;
                importer.StartRow();
                importer.Write(checked((int)(table.FirstRow + row)), NpgsqlDbType.Integer);
                foreach (var write in writers)
                    write(importer, row);
                copied++;
            }
            await importer.CompleteAsync(ct);
        }
        return copied;
    }

    internal static Action<NpgsqlBinaryImporter, int> Writer(UpstreamTable table, UpstreamColumn column)
    {
        switch (column.Kind)
        {
            case ColumnKind.Text:
            {
                var a = table.Text(column.Name);
                return (w, i) => { if (a[i] is { } v) w.Write(v, NpgsqlDbType.Text); else w.WriteNull(); };
            }
            case ColumnKind.JsonArray:
            {
                var a = table.Text(column.Name);
                return (w, i) => { if (a[i] is { } v) w.Write(v, NpgsqlDbType.Jsonb); else w.WriteNull(); };
            }
            case ColumnKind.Int:
            {
                var a = table.Int(column.Name);
                return (w, i) => { if (a[i] is { } v) w.Write(v, NpgsqlDbType.Integer); else w.WriteNull(); };
            }
            case ColumnKind.Number:
            {
                var a = table.Number(column.Name);
                var scale = LoadChecks.ScaleOf(column.Name);
                return (w, i) => { if (a[i] is { } v) w.Write(LoadChecks.ToNumeric(v, scale), NpgsqlDbType.Numeric); else w.WriteNull(); };
            }
            case ColumnKind.Date:
            {
                var a = table.Date(column.Name);
                return (w, i) => { if (a[i] is { } v) w.Write(v, NpgsqlDbType.Date); else w.WriteNull(); };
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(column), column.Kind, null);
        }
    }
}
