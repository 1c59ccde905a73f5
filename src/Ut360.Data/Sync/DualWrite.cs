using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// The design's Strategy 2: a load that has committed to PostgreSQL pushes what it changed to
/// Redis in the same run. PostgreSQL is the source of truth, so a Redis failure never undoes
/// the load: the load is marked needs_sync and the next sync (full, incremental or scheduled)
/// widens its window to cover it and clears the mark.
public static class DualWrite
{
    public static async Task<SyncResult> ApplyAsync(NpgsqlDataSource db, IConnectionMultiplexer redis, RedisKeys keys,
        long loadId, IProgress<SyncProgress>? progress, CancellationToken ct)
    {
        await using (var cmd = db.CreateCommand("UPDATE data_loads SET dual_write = true WHERE id = @id"))
        {
            cmd.Parameters.AddWithValue("id", loadId);
            if (await cmd.ExecuteNonQueryAsync(ct) == 0)
                throw new SyncRequestException($"no load with id {loadId} in data_loads");
        }
        var request = new SyncRequest
        {
            Kind = SyncKind.DualWrite,
            Trigger = "load",
            ChangedSince = loadId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        SyncResult result;
        try
        {
            result = await new SyncEngine(db, redis, keys).RunAsync(request, progress, ct);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException)
        {
            await MarkNeedsSyncAsync(db, loadId, ct);
            return new SyncResult
            {
                Kind = SyncKind.DualWrite, Outcome = SyncOutcome.Failed,
                Message = $"Redis write failed ({ex.Message}); PostgreSQL has the data, load {loadId} is marked needs_sync for the next sync",
            };
        }
        // Another sync held the lock and may have read PostgreSQL before this load committed.
        if (result.Outcome == SyncOutcome.Skipped)
        {
            await MarkNeedsSyncAsync(db, loadId, ct);
            return result with { Message = $"another sync was running; load {loadId} is marked needs_sync for the next sync" };
        }
        return result;
    }

    static async Task MarkNeedsSyncAsync(NpgsqlDataSource db, long loadId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("UPDATE data_loads SET needs_sync = true WHERE id = @id");
        cmd.Parameters.AddWithValue("id", loadId);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
