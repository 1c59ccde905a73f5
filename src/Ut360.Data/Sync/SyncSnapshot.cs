using Npgsql;

namespace Ut360.Data.Sync;

/// One PostgreSQL snapshot for everything a sync reads: the data version it labels the meta
/// with, the rows, the counts and (incremental) the change set. A REPEATABLE READ transaction
/// exports its snapshot and every other connection of the sync imports it, so a load that
/// commits while the sync runs is either wholly in what the sync publishes, with its own
/// data_version, or wholly out of it. A connection waiting on a lock (a load's exclusive lock)
/// still reads the snapshot taken before the wait.
sealed class SyncSnapshot : IAsyncDisposable
{
    readonly NpgsqlDataSource _db;
    readonly List<(NpgsqlConnection Conn, NpgsqlTransaction Tx)> _sessions = [];

    SyncSnapshot(NpgsqlDataSource db, string id)
    {
        _db = db;
        Id = id;
    }

    public string Id { get; }

    /// The connection that exported the snapshot; free for reads while the others stream.
    public NpgsqlConnection Connection => _sessions[0].Conn;

    public static async Task<SyncSnapshot> BeginAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var conn = await db.OpenConnectionAsync(ct);
        try
        {
            var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
            await using var export = new NpgsqlCommand("SELECT pg_export_snapshot()", conn, tx);
            var snapshot = new SyncSnapshot(db, (string)(await export.ExecuteScalarAsync(ct))!);
            snapshot._sessions.Add((conn, tx));
            return snapshot;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// Another connection reading in the same snapshot (the snapshot's lifetime).
    public async Task<NpgsqlConnection> OpenAsync(CancellationToken ct)
    {
        var conn = await _db.OpenConnectionAsync(ct);
        try
        {
            var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
            await using (var import = new NpgsqlCommand($"SET TRANSACTION SNAPSHOT '{Id.Replace("'", "''", StringComparison.Ordinal)}'", conn, tx))
                await import.ExecuteNonQueryAsync(ct);
            _sessions.Add((conn, tx));
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// The newest succeeded load's data_version as of the snapshot ("none" before any load).
    public async Task<string> DataVersionAsync(CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT data_version FROM data_loads
             ORDER BY (outcome = 'succeeded') DESC, started_at DESC, id DESC LIMIT 1
            """, Connection);
        return await cmd.ExecuteScalarAsync(ct) as string ?? "none";
    }

    /// The loads marked needs_sync that the snapshot holds, so the run clears exactly the marks
    /// whose data it published.
    public async Task<long[]> NeedingSyncAsync(CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT coalesce(array_agg(id), '{}') FROM data_loads WHERE needs_sync AND outcome = 'succeeded'", Connection);
        return (long[])(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// The newest load id the snapshot holds as finished (0 when none).
    public async Task<long> LastFinishedLoadAsync(CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT coalesce(max(id), 0) FROM data_loads WHERE outcome <> 'running'", Connection);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    public async ValueTask DisposeAsync()
    {
        // Read-only transactions: ending them is all; the importers first, the exporter last.
        for (var i = _sessions.Count - 1; i >= 0; i--)
        {
            var (conn, tx) = _sessions[i];
            try { await tx.DisposeAsync(); } catch (NpgsqlException) { /* the connection is gone */ }
            await conn.DisposeAsync();
        }
        _sessions.Clear();
    }
}
