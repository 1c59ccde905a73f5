using System.Runtime.CompilerServices;
using Npgsql;

namespace Ut360.Data.Sync;

/// One row of sync_runs, as `./ut360 sync --history` and GET /api/v1/admin/sync/history show it.
public sealed record SyncRunRow(
    long Id, string Kind, string Trigger, string? DataVersion, string? ChangedSince,
    DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, long? DurationMs,
    int KeysWritten, int KeysDeleted, int Subscribers, long? RedisUsedMemory,
    string Outcome, string? Message, string? Host);

/// The record of every sync in PostgreSQL (table sync_runs, migration 0002).
public static class SyncRuns
{
    const string InsertSql = """
        INSERT INTO sync_runs (kind, trigger, changed_since, host, namespace)
        VALUES (@kind, @trigger, @changed_since, @host, @namespace)
        RETURNING id, started_at
        """;

    const string FinishSql = """
        UPDATE sync_runs
           SET finished_at = now(), duration_ms = @duration_ms, keys_written = @keys_written,
               keys_deleted = @keys_deleted, subscribers = @subscribers, redis_used_memory = @used_memory,
               data_version = @data_version, outcome = @outcome, message = @message
         WHERE id = @id
        """;

    const string HistorySql = """
        SELECT id, kind, trigger, data_version, changed_since, started_at, finished_at, duration_ms,
               keys_written, keys_deleted, subscribers, redis_used_memory, outcome, message, host
          FROM sync_runs
         ORDER BY started_at DESC, id DESC
         LIMIT @limit
        """;

    // A run still 'running' in our namespace while we hold the lock cannot be alive: the lock
    // goes with its holder's connection, so its process died (kill -9, a crash, a lost server)
    // before it could record an outcome.
    const string InterruptSql = """
        UPDATE sync_runs
           SET outcome = 'interrupted', finished_at = now(),
               message = 'ended without recording an outcome (process killed or connection lost); found by the next sync at ' ||
                         to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
         WHERE outcome = 'running' AND coalesce(namespace, 'ut360') = @namespace
        RETURNING id
        """;

    /// Marks the namespace's 'running' rows as interrupted. Call only while holding SyncLock.
    public static async Task<IReadOnlyList<long>> MarkInterruptedAsync(NpgsqlDataSource db, string ns, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(InterruptSql);
        cmd.Parameters.AddWithValue("namespace", ns);
        var ids = new List<long>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            ids.Add(r.GetInt64(0));
        return ids;
    }

    /// Marks the rows of runs whose process is gone, without waiting for the next run: a sync row
    /// still 'running' in a namespace whose SyncLock is free becomes 'interrupted', a load row
    /// still 'running' while the load lock is free becomes 'failed' (interrupted). The advisory
    /// locks tell: a live holder keeps its lock, a dead one's went with its connection. Returns
    /// the rows marked (sync runs, loads). `ut360 sync --history` calls it.
    public static async Task<(int SyncRuns, int Loads)> MarkAbandonedAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var namespaces = new List<string>();
        await using (var cmd = db.CreateCommand("SELECT DISTINCT coalesce(namespace, 'ut360') FROM sync_runs WHERE outcome = 'running'"))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct))
                namespaces.Add(r.GetString(0));
        var runs = 0;
        foreach (var ns in namespaces)
        {
            await using var lease = await SyncLock.TryAcquireAsync(db, ns, ct);
            if (lease is not null)
                runs += (await MarkInterruptedAsync(db, ns, ct)).Count;
        }

        await using var conn = await db.OpenConnectionAsync(ct);
        await using (var take = new NpgsqlCommand("SELECT pg_try_advisory_lock(@k)", conn))
        {
            take.Parameters.AddWithValue("k", Loading.DataLoader.LoadLockKey);
            if (await take.ExecuteScalarAsync(ct) is not true)
                return (runs, 0);
        }
        int loads;
        await using (var mark = new NpgsqlCommand("""
            UPDATE data_loads SET outcome = 'failed', finished_at = clock_timestamp(),
                   message = 'interrupted: the loading process ended before it finished (found by sync --history)'
             WHERE outcome = 'running'
            """, conn))
            loads = await mark.ExecuteNonQueryAsync(ct);
        await using (var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@k)", conn))
        {
            release.Parameters.AddWithValue("k", Loading.DataLoader.LoadLockKey);
            await release.ExecuteScalarAsync(ct);
        }
        return (runs, loads);
    }

    public static async Task<(long Id, DateTimeOffset StartedAt)> StartAsync(
        NpgsqlDataSource db, string kind, string trigger, string? changedSince, string ns, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(InsertSql);
        cmd.Parameters.AddWithValue("namespace", ns);
        cmd.Parameters.AddWithValue("kind", kind);
        cmd.Parameters.AddWithValue("trigger", trigger);
        cmd.Parameters.AddWithValue("changed_since", (object?)changedSince ?? DBNull.Value);
        cmd.Parameters.AddWithValue("host", Environment.MachineName);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1));
    }

    /// A run that could not start because another holds the lock is still recorded, so an
    /// operator reading the history sees why a scheduled run did nothing.
    public static async Task<long> RecordSkippedAsync(NpgsqlDataSource db, string kind, string trigger, string message, string ns, CancellationToken ct)
    {
        var (id, _) = await StartAsync(db, kind, trigger, null, ns, ct);
        await FinishAsync(db, id, new SyncResult { RunId = id, Outcome = SyncOutcome.Skipped, Message = message }, ct);
        return id;
    }

    public static async Task FinishAsync(NpgsqlDataSource db, long id, SyncResult result, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(FinishSql);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("duration_ms", (long)result.Duration.TotalMilliseconds);
        cmd.Parameters.AddWithValue("keys_written", (int)Math.Min(int.MaxValue, result.KeysWritten));
        cmd.Parameters.AddWithValue("keys_deleted", (int)Math.Min(int.MaxValue, result.KeysDeleted));
        cmd.Parameters.AddWithValue("subscribers", result.Subscribers);
        cmd.Parameters.AddWithValue("used_memory", (object?)result.UsedMemory ?? DBNull.Value);
        cmd.Parameters.AddWithValue("data_version", (object?)result.DataVersion ?? DBNull.Value);
        cmd.Parameters.AddWithValue("outcome", result.Outcome);
        cmd.Parameters.AddWithValue("message", (object?)result.Message ?? DBNull.Value);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public static async IAsyncEnumerable<SyncRunRow> HistoryAsync(NpgsqlDataSource db, int limit, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(HistorySql);
        cmd.Parameters.AddWithValue("limit", limit);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            yield return new SyncRunRow(
                r.GetInt64(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.GetFieldValue<DateTimeOffset>(5),
                r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6), r.IsDBNull(7) ? null : r.GetInt64(7),
                r.GetInt32(8), r.GetInt32(9), r.GetInt32(10), r.IsDBNull(11) ? null : r.GetInt64(11),
                r.GetString(12), r.IsDBNull(13) ? null : r.GetString(13), r.IsDBNull(14) ? null : r.GetString(14));
        }
    }
}

/// One sync at a time per database and namespace, across processes and machines: a PostgreSQL
/// session-level advisory lock held on a connection of its own for the whole run. If the holder
/// dies (even kill -9) its connection closes and the server releases the lock; nothing to expire.
public sealed class SyncLock : IAsyncDisposable
{
    readonly NpgsqlConnection _conn;
    readonly long _key;

    SyncLock(NpgsqlConnection conn, long key)
    {
        _conn = conn;
        _key = key;
    }

    public static long KeyFor(string ns)
    {
        // FNV-1a of the namespace, so tests with their own namespaces never contend.
        var h = 14695981039346656037UL;
        foreach (var c in "ut360-sync:" + ns)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        return unchecked((long)h);
    }

    public static async Task<SyncLock?> TryAcquireAsync(NpgsqlDataSource db, string ns, CancellationToken ct)
    {
        var conn = await db.OpenConnectionAsync(ct);
        try
        {
            var key = KeyFor(ns);
            await using var cmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(@k)", conn);
            cmd.Parameters.AddWithValue("k", key);
            if (await cmd.ExecuteScalarAsync(ct) is true)
                return new SyncLock(conn, key);
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
        await conn.DisposeAsync();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var cmd = new NpgsqlCommand("SELECT pg_advisory_unlock(@k)", _conn);
            cmd.Parameters.AddWithValue("k", _key);
            await cmd.ExecuteScalarAsync();
        }
        catch (NpgsqlException)
        {
            // The connection is gone, and with it the lock.
        }
        await _conn.DisposeAsync();
    }
}
