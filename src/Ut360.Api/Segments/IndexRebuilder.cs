using System.Collections.Concurrent;
using Npgsql;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Domain;

namespace Ut360.Api.Segments;

/// Rebuilds an index key that Redis lacks (evicted, deleted, never synced) from PostgreSQL, in
/// the background while the request that noticed is answered from PostgreSQL. The members go
/// into a scratch key in the same cluster slot, renamed into place only if a sync has not
/// created the index meanwhile, so readers never see a half-built index.
public sealed class IndexRebuilder(
    IConnectionMultiplexer redis, NpgsqlDataSource db, RedisCircuit circuit, ILogger<IndexRebuilder> logger, IHostApplicationLifetime lifetime)
{
    readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);

    /// Starts a rebuild unless one of this index is already running; returns it (tests await it).
    public Task Trigger(Segment segment)
    {
        if (circuit.IsOpen)
            return Task.CompletedTask;
        var key = (string)segment.Key!;
        if (_running.TryGetValue(key, out var running))
            return running;
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_running.TryAdd(key, tcs.Task))
            return _running.TryGetValue(key, out running) ? running : Task.CompletedTask;
        _ = Task.Run(async () =>
        {
            try
            {
                await RebuildAsync(segment, lifetime.ApplicationStopping);
            }
            catch (Exception e)
            {
                // Not reported to the circuit: a slow rebuild says nothing about the request path.
                logger.LogWarning(e, "Rebuilding index {Key} failed", key);
            }
            finally
            {
                _running.TryRemove(key, out _);
                tcs.TrySetResult();
            }
        });
        return tcs.Task;
    }

    async Task RebuildAsync(Segment segment, CancellationToken ct)
    {
        var database = redis.GetDatabase();
        var scratch = CacheFill.ScratchFor(segment.Key);
        var columns = segment.Kind == SegmentKind.Service ? "isdn, customer_value_score, advance_readiness_score" : "isdn";
        await using var cmd = db.CreateCommand($"SELECT {columns} FROM recommendations WHERE {segment.Where}");
        cmd.Parameters.Add(segment.Parameter());
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var batchSets = new List<RedisValue>(5000);
        var batchZ = new List<SortedSetEntry>(5000);
        var total = 0;
        var expiring = false;
        while (await reader.ReadAsync(ct))
        {
            var isdn = reader.GetString(0);
            if (segment.Kind == SegmentKind.Service)
            {
                var cv = reader.IsDBNull(1) ? 0m : reader.GetDecimal(1);
                var ar = reader.IsDBNull(2) ? 0m : reader.GetDecimal(2);
                batchZ.Add(new SortedSetEntry(isdn, Priority.IndexScore(cv, ar)));
            }
            else
                batchSets.Add(isdn);
            if (++total % 5000 == 0)
                await FlushAsync();
        }
        await FlushAsync();
        if (total == 0)
            return; // an empty segment: Redis does not keep empty sets either
        var renamed = await CacheFill.RenameIfAbsentAsync(database, scratch, segment.Key);
        logger.LogInformation("Index {Key} rebuilt from PostgreSQL: {Count} members ({Outcome})", (string)segment.Key!, total,
            renamed ? "renamed into place" : "a sync wrote it first");

        // One batch in flight at a time: a rebuild must not flood the connection the request
        // path shares (a 140,000-member burst would queue UC1 reads behind it).
        async Task FlushAsync()
        {
            if (batchZ.Count > 0)
                await database.SortedSetAddAsync(scratch, [.. batchZ]);
            if (batchSets.Count > 0)
                await database.SetAddAsync(scratch, [.. batchSets]);
            if (batchZ.Count + batchSets.Count > 0 && !expiring)
            {
                // A rebuild that dies half-way leaves nothing behind for long.
                await database.KeyExpireAsync(scratch, TimeSpan.FromMinutes(10));
                expiring = true;
            }
            batchZ.Clear();
            batchSets.Clear();
        }
    }
}
