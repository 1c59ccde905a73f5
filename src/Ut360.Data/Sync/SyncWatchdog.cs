using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// Starts a full sync without waiting for the schedule when Redis does not hold one whole
/// version (docs/redis.md, "Self-repair"), checked every Sync:WatchSeconds:
///  - a run stopped mid-write: its writing mark (StraySweep) is set while no sync holds the lock,
///    or its sync_runs row says running while the lock is free (process killed);
///  - Redis lost or reloaded its data: the server's run_id (INFO server; every master's in a
///    Cluster) is not the one the last full sync recorded in RedisKeys.SyncServer, or the meta
///    is missing while PostgreSQL has subscribers.
/// Every instance watches; the sync's advisory lock lets one of them run it, and the recorded
/// run_id then tells the others that the server has been refilled.
public sealed class SyncWatchdog(IServiceProvider services, IOptions<SyncOptions> options, ILogger<SyncWatchdog> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled || options.Value.WatchSeconds <= 0)
            return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.WatchSeconds));
        do
        {
            try
            {
                var sync = services.GetRequiredService<SyncService>();
                if (await ReasonAsync(sync, stoppingToken) is { } reason && await DueAsync(sync, stoppingToken))
                {
                    // Asked again under the lock: another instance may have refilled Redis
                    // between this check and the lock (its run then recorded the server's run_id).
                    var runId = await sync.TryStartFullSyncAsync("watchdog", stoppingToken,
                        async ct => await ReasonAsync(sync, ct) is not null);
                    if (runId is not null)
                        log.LogWarning("Started full sync {RunId}: {Reason}", runId, reason);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is RedisException or NpgsqlException or TimeoutException or InvalidOperationException)
            {
                log.LogDebug(ex, "Sync watchdog: a server is unavailable; checking again later");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// Why a full sync is needed now, or null.
    public static async Task<string?> ReasonAsync(SyncService sync, CancellationToken ct)
    {
        var t = sync.Engine.Context;
        // Not judged on a partial view (a master still reconnecting): the next tick will.
        RedisState.RequireAllConnected(t.Redis);
        var db = t.RedisDb;
        var mark = db.StringGetAsync(t.Keys.SyncWriting);
        var meta = db.KeyExistsAsync(t.Keys.MetaStats);
        var recorded = db.StringGetAsync(t.Keys.SyncServer);
        var server = await ServerRunIdAsync(t.Redis);
        if (!(await mark).IsNull)
            return $"a sync stopped while writing (run {await mark})";
        if (await RunningRowAsync(t.Db, t.Keys.Namespace, ct))
            return "a sync run is recorded as running but no process holds its lock";
        if (!await meta && await HasSubscribersAsync(t.Db, ct))
            return "Redis has no meta:stats while PostgreSQL has subscribers (emptied or restarted)";
        if ((await recorded).IsNull ? await meta : await recorded != server)
            return $"the Redis server changed (run_id {server}) since the last full sync";
        return null;
    }

    /// False while the watchdog's own last runs failed and their backoff has not passed: a sync
    /// that keeps failing (Redis full, evicting) is retried after WatchSeconds × 2^failures,
    /// at most every 30 minutes, not every tick. Read from sync_runs, so it holds across instances.
    async Task<bool> DueAsync(SyncService sync, CancellationToken ct)
    {
        var t = sync.Engine.Context;
        await using var cmd = t.Db.CreateCommand("""
            SELECT outcome, finished_at FROM sync_runs
             WHERE trigger = 'watchdog' AND coalesce(namespace, 'ut360') = @ns AND outcome <> 'running'
             ORDER BY id DESC LIMIT 12
            """);
        cmd.Parameters.AddWithValue("ns", t.Keys.Namespace);
        var failures = 0;
        DateTimeOffset? last = null;
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct) && r.GetString(0) is SyncOutcome.Failed or SyncOutcome.Interrupted)
            {
                failures++;
                last ??= r.IsDBNull(1) ? null : r.GetFieldValue<DateTimeOffset>(1);
            }
        }
        if (failures == 0 || last is null)
            return true;
        var wait = TimeSpan.FromSeconds(Math.Min(options.Value.WatchSeconds * Math.Pow(2, failures), 1800));
        return DateTimeOffset.UtcNow - last.Value >= wait;
    }

    /// The run_id of every master, in a stable order: it changes when any of them restarts.
    /// <exception cref="RedisConnectionException">a master is not connected.</exception>
    public static async Task<string> ServerRunIdAsync(IConnectionMultiplexer redis)
    {
        RedisState.RequireAllConnected(redis);
        var ids = new List<string>();
        foreach (var server in RedisState.Masters(redis))
        {
            var info = await server.InfoAsync("server");
            var id = info.SelectMany(g => g).FirstOrDefault(p => p.Key == "run_id").Value;
            ids.Add(id ?? server.EndPoint.ToString() ?? "");
        }
        ids.Sort(StringComparer.Ordinal);
        return string.Join(',', ids);
    }

    static async Task<bool> RunningRowAsync(NpgsqlDataSource db, string ns, CancellationToken ct)
    {
        // pg_locks shows a bigint advisory key as two 32-bit halves (classid, objid; objsubid 1).
        await using var cmd = db.CreateCommand("""
            SELECT EXISTS (SELECT 1 FROM sync_runs WHERE outcome = 'running' AND coalesce(namespace, 'ut360') = @ns)
               AND NOT EXISTS (SELECT 1 FROM pg_locks
                                WHERE locktype = 'advisory' AND objsubid = 1 AND granted
                                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                                  AND classid = @hi::oid AND objid = @lo::oid)
            """);
        var key = SyncLock.KeyFor(ns);
        cmd.Parameters.AddWithValue("ns", ns);
        cmd.Parameters.AddWithValue("hi", (key >> 32) & 0xFFFFFFFFL);
        cmd.Parameters.AddWithValue("lo", key & 0xFFFFFFFFL);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    static async Task<bool> HasSubscribersAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT EXISTS (SELECT 1 FROM recommendations)");
        return await cmd.ExecuteScalarAsync(ct) is true;
    }
}
