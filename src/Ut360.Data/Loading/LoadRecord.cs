using System.Text.Json;
using Npgsql;

namespace Ut360.Data.Loading;

/// The load's row in data_loads: succeeded (written in the load's transaction, so the record
/// and the data commit together), refused, or failed.
static class LoadRecord
{
    const string FinishLoad = """
        UPDATE data_loads SET
            data_version = @version, source_format = @format, source_files = @files::jsonb,
            rows_recommendations = @rows_rec, rows_profiles = @rows_profile, rows_monthly_arpu = @rows_monthly,
            rows_rejected = @rejected, rows_inserted = @inserted, rows_updated = @updated, rows_deleted = @deleted,
            rejects_file = @rejects, needs_sync = @needs_sync, finished_at = clock_timestamp(),
            outcome = @outcome, message = @message
        WHERE id = @id
        """;

    public static string ModeName(LoadMode mode) => mode == LoadMode.Snapshot ? "snapshot" : "upsert";

    /// Records the outcome inside the load's transaction and commits.
    public static async Task<LoadResult> FinishAsync(NpgsqlConnection conn, NpgsqlTransaction tx, LoadResult result,
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
            + (result.RejectedRows > 0 ? $", {result.RejectedRows} rows rejected" : "");
        result = result with { Message = message };
        await using (var cmd = Command(conn, result, "succeeded", needsSync: result.Inserted + result.Updated + result.Deleted > 0))
        {
            cmd.Transaction = tx;
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return result;
    }

    /// Records a refusal (outside any transaction: nothing of the load is kept).
    public static async Task RefuseAsync(NpgsqlConnection conn, LoadResult result, string message, CancellationToken ct)
    {
        await using var cmd = Command(conn, result with { Message = message }, "refused", needsSync: false);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// Marks a running load failed, on a connection of its own: the load's connection may be
    /// the thing that failed.
    public static async Task FailAsync(NpgsqlDataSource dataSource, long loadId, string message)
    {
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

    static NpgsqlCommand Command(NpgsqlConnection conn, LoadResult r, string outcome, bool needsSync)
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
}

/// The subscribers a load changed and deleted: counts always, the ISDN sets when asked for.
sealed class ChangeSet
{
    public HashSet<string> Changed { get; } = new(StringComparer.Ordinal);
    public HashSet<string> Deleted { get; } = new(StringComparer.Ordinal);
    public int ChangedCount { get; set; }
    public int DeletedCount { get; set; }
}
