using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Domain;
using Ut360.Data.Records;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// Fills Redis from PostgreSQL with the layout of design section 2.2 (A–F) and keeps it fresh.
/// Used by `ut360 sync`, `ut360 load --dual-write`, the scheduler and POST /api/v1/admin/sync.
///
/// A full sync, in order (see docs/redis.md for what a reader can observe at each step):
///  1. read what Redis holds: live index keys and members, leftovers of a killed sync;
///  2. stream recommendations and profiles from PostgreSQL (two streams in parallel, see
///     StreamAsync), writing every rec/profile hash with its 7-day TTL and the new indexes under
///     temporary keys "{live}:next" through RespPipeline (RESP in large buffers, every reply
///     checked);
///  3. record the subscribers gone from PostgreSQL in a pending-deletion set;
///  4. publish: RENAME every temporary index over its live key, drop indexes that became empty,
///     RENAME the new meta over ut360:meta:stats (standalone: one MULTI/EXEC, so indexes and meta
///     change together; Cluster: key by key, each key atomic);
///  5. delete the gone subscribers' keys, then move the pending set into the recently-deleted
///     one (RedisKeys.SyncDeleted), which keeps API write-backs from bringing them back.
/// A kill before 4 leaves the previous indexes and meta live; a kill in 4–5 leaves the pending
/// set, which the next sync deletes too. Temporary keys left behind are dropped at step 1.
public sealed class SyncEngine(NpgsqlDataSource db, IConnectionMultiplexer redis, RedisKeys keys, int database = -1)
{
    const int IndexChunk = 1000;    // members per ZADD/SADD/ZREM/SREM

    /// Adds the pending set to the recently-deleted one (kept DeletedTtl) and drops it, in one step.
    const string RetireGone = """
        redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        redis.call('DEL', KEYS[1])
        return 1
        """;
    static readonly TimeSpan Ttl = RedisKeys.RecordTtl;

    IDatabase Db => redis.GetDatabase(database);
    NpgsqlDataSource DataSource => db;
    RedisKeys Keys => keys;
    int DbNumber => database < 0 ? 0 : database;

    /// Runs a sync to its end (or records it as skipped when another holds the lock).
    public async Task<SyncResult> RunAsync(SyncRequest request, IProgress<SyncProgress>? progress, CancellationToken ct)
    {
        await using var session = await BeginAsync(request, ct);
        if (session is null)
        {
            var message = "another sync is running";
            long? id = request.DryRun ? null : await SyncRuns.RecordSkippedAsync(db, request.Kind, request.Trigger, message, keys.Namespace, ct);
            return new SyncResult { RunId = id, Outcome = SyncOutcome.Skipped, Kind = request.Kind, Message = message };
        }
        return await session.ExecuteAsync(progress, ct);
    }

    /// Takes the lock and records the run, so a caller (the API) can answer with the run id
    /// before the work is done. Null when another sync holds the lock.
    public async Task<SyncSession?> BeginAsync(SyncRequest request, CancellationToken ct)
    {
        var since = request.IsIncremental ? await ResolveSinceAsync(request.ChangedSince, ct) : (DateTimeOffset?)null;
        var lease = await SyncLock.TryAcquireAsync(db, keys.Namespace, ct);
        if (lease is null)
            return null;
        try
        {
            long? runId = null;
            DateTimeOffset started = DateTimeOffset.UtcNow;
            if (!request.DryRun)
            {
                await SyncRuns.MarkInterruptedAsync(db, keys.Namespace, ct);
                (runId, started) = await SyncRuns.StartAsync(db, request.Kind, request.Trigger, request.ChangedSince, keys.Namespace, ct);
            }
            return new SyncSession(this, request, lease, runId, started, since);
        }
        catch
        {
            await lease.DisposeAsync();
            throw;
        }
    }

    async Task<DateTimeOffset> ResolveSinceAsync(string? text, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(text))
            throw new SyncRequestException("--changed-since needs a load id or an ISO 8601 time");
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var loadId))
        {
            await using var cmd = db.CreateCommand("SELECT started_at FROM data_loads WHERE id = @id");
            cmd.Parameters.AddWithValue("id", loadId);
            return await cmd.ExecuteScalarAsync(ct) is DateTime t
                ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc))
                : throw new SyncRequestException($"--changed-since: no load with id {loadId} in data_loads");
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            return time;
        throw new SyncRequestException($"--changed-since: '{text}' is neither a load id nor an ISO 8601 time");
    }

    public sealed class SyncSession : IAsyncDisposable
    {
        readonly SyncEngine _e;
        readonly SyncRequest _request;
        readonly SyncLock _lease;
        readonly DateTimeOffset? _since;

        internal SyncSession(SyncEngine engine, SyncRequest request, SyncLock lease, long? runId, DateTimeOffset startedAt, DateTimeOffset? since)
        {
            _e = engine;
            _request = request;
            _lease = lease;
            RunId = runId;
            StartedAt = startedAt;
            _since = since;
        }

        public long? RunId { get; }
        public DateTimeOffset StartedAt { get; }

        public async Task<SyncResult> ExecuteAsync(IProgress<SyncProgress>? progress, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var result = await _e.ExecuteAsync(_request, RunId ?? 0, StartedAt, _since, clock, progress, ct);
                result = result with { RunId = RunId, Duration = clock.Elapsed };
                if (RunId is { } id)
                    await SyncRuns.FinishAsync(_e.DataSource, id, result, ct);
                return result;
            }
            catch (Exception ex)
            {
                if (RunId is { } id)
                {
                    var failed = new SyncResult
                    {
                        Outcome = SyncOutcome.Failed, Kind = _request.Kind, Duration = clock.Elapsed,
                        Message = ex is OperationCanceledException ? "cancelled" : ex.GetType().Name + ": " + ex.Message,
                    };
                    try { await SyncRuns.FinishAsync(_e.DataSource, id, failed, CancellationToken.None); }
                    catch (NpgsqlException) { /* the run stays 'running'; the original error matters more */ }
                }
                throw;
            }
        }

        public ValueTask DisposeAsync() => _lease.DisposeAsync();
    }

    async Task<SyncResult> ExecuteAsync(SyncRequest request, long runId, DateTimeOffset startedAt, DateTimeOffset? since,
        Stopwatch clock, IProgress<SyncProgress>? progress, CancellationToken ct)
    {
        var warnings = new List<string>();
        var timings = new List<(string, TimeSpan)>();
        void Mark(string phase)
        {
            lock (timings)
                timings.Add((phase, clock.Elapsed));
        }
        var limits = await ServerLimits.ReadAsync(redis, warnings);
        var dataVersion = await DataVersionAsync(ct);

        if (request.IsIncremental)
        {
            // A load whose dual write failed is repaired by the next sync: widen the window to it.
            var pending = await OldestNeedingSyncAsync(ct);
            if (pending is { } p && p < since!.Value)
                since = p;
        }

        progress?.Report(new SyncProgress("reading Redis", 0, 0));
        var state = await RedisState.ReadAsync(redis, keys, DbNumber, progress, ct);
        if (!request.DryRun && state.LeftoverTempKeys.Count > 0)
            await Task.WhenAll(state.LeftoverTempKeys.Select(k => Db.KeyDeleteAsync(k)));

        Mark("read Redis");
        var total = await CountAsync(since, ct);
        var w = new Writer(this, request.DryRun, limits, progress, total);

        if (request.IsIncremental)
            await StreamAsync(w, since, temp: false, Mark, ct);
        else
            await StreamAsync(w, null, temp: true, Mark, ct);

        // Who is gone: members of the old indexes (and of a killed sync's pending set) that
        // PostgreSQL no longer has. An incremental sync never sees every row, so it asks for the keys.
        HashSet<string> recIsdns, profileIsdns;
        if (request.IsIncremental)
        {
            recIsdns = await IsdnsAsync("SELECT isdn FROM recommendations", ct);
            profileIsdns = await IsdnsAsync("SELECT isdn FROM subscriber_360_profiles", ct);
        }
        else
        {
            recIsdns = w.RecIsdns;
            profileIsdns = w.ProfileIsdns;
        }
        var candidates = new HashSet<string>(state.Members.Keys, StringComparer.Ordinal);
        candidates.UnionWith(state.PendingGone);
        var goneRec = candidates.Where(i => !recIsdns.Contains(i)).ToList();
        var goneProfile = candidates.Where(i => !profileIsdns.Contains(i)).ToList();
        var gone = goneRec.Union(goneProfile, StringComparer.Ordinal).ToList();

        int added = 0, moves = 0;
        foreach (var (isdn, m) in w.NewMembers)
        {
            if (!state.Members.TryGetValue(isdn, out var old))
                added++;
            else if (old != m)
                moves++;
        }
        var removed = goneRec.Count(i => state.Members.ContainsKey(i));

        MetaStats meta;
        if (request.IsIncremental)
            meta = await MetaStats.FromPostgresAsync(db, ct);
        else
            meta = w.Meta;

        if (request.DryRun)
        {
            return new SyncResult
            {
                Outcome = SyncOutcome.DryRun, Kind = request.Kind, DataVersion = dataVersion, ChangedSince = since,
                Subscribers = w.Recs, Profiles = w.ProfilesWritten, KeysWritten = w.KeysWritten,
                KeysDeleted = goneRec.Count + goneProfile.Count, SubscribersAdded = added, SubscribersRemoved = removed,
                IndexMoves = moves, Warnings = warnings, TotalSubscribersInRedis = meta.Subscribers,
                IndexCounts = IndexCounts(meta),
                Message = $"would write {w.KeysWritten} keys, delete {goneRec.Count + goneProfile.Count}, move {moves} subscribers between indexes",
            };
        }

        // Step 3: remember what is to be deleted before anything stops pointing at it.
        var goneKey = keys.SyncGone;
        if (gone.Count > 0)
        {
            var tasks = new List<Task>();
            foreach (var chunk in gone.Chunk(IndexChunk))
                tasks.Add(Db.SetAddAsync(goneKey, [.. chunk.Select(i => (RedisValue)i)]));
            await Task.WhenAll(tasks);
        }

        progress?.Report(new SyncProgress("publishing", 0, 0));
        ct.ThrowIfCancellationRequested();
        var metaHash = meta.ToHash(dataVersion, DateTimeOffset.UtcNow, runId, request.Kind, null);
        if (request.IsIncremental)
            await ApplyIncrementalIndexesAsync(state, w, goneRec, metaHash, ct);
        else
            await PublishAsync(state, w, metaHash, ct);

        Mark("publish");
        // Step 5: the gone subscribers' keys, now that no index lists them.
        progress?.Report(new SyncProgress("deleting", 0, gone.Count));
        ct.ThrowIfCancellationRequested();
        long deleted = 0;
        if (gone.Count > 0)
        {
            var tasks = new List<Task<bool>>(goneRec.Count + goneProfile.Count);
            foreach (var i in goneRec)
                tasks.Add(Db.KeyDeleteAsync(keys.Rec(i)));
            foreach (var i in goneProfile)
                tasks.Add(Db.KeyDeleteAsync(keys.Profile(i)));
            foreach (var ok in await Task.WhenAll(tasks))
                deleted += ok ? 1 : 0;
            // The pending set becomes the recently-deleted one that API write-backs consult.
            await Db.ScriptEvaluateAsync(RetireGone, [goneKey, keys.SyncDeleted], [(long)RedisKeys.DeletedTtl.TotalMilliseconds]);
        }

        Mark("delete");
        await Db.HashSetAsync(keys.MetaStats, "sync_duration_ms", (long)clock.Elapsed.TotalMilliseconds);
        await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(keys.Events), runId.ToString(CultureInfo.InvariantCulture));
        await ClearNeedsSyncAsync(request.IsIncremental ? since : null, startedAt, ct);

        CheckEncodings(w, limits, warnings);
        var used = await ServerLimits.UsedMemoryAsync(redis);
        return new SyncResult
        {
            Outcome = SyncOutcome.Succeeded, Kind = request.Kind, DataVersion = dataVersion, ChangedSince = since,
            Subscribers = w.Recs, Profiles = w.ProfilesWritten, KeysWritten = w.KeysWritten, KeysDeleted = deleted,
            SubscribersAdded = added, SubscribersRemoved = removed, IndexMoves = moves,
            UsedMemory = used, TotalSubscribersInRedis = meta.Subscribers, Warnings = warnings,
            IndexCounts = IndexCounts(meta), Timings = timings,
        };
    }

    static Dictionary<string, long> IndexCounts(MetaStats meta)
    {
        var d = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (k, v) in meta.Services) d["service:" + k] = v;
        foreach (var (k, v) in meta.Risks) d["risk:" + k] = v;
        foreach (var (k, v) in meta.Clusters) d["cluster:" + k.ToString(CultureInfo.InvariantCulture)] = v;
        return d;
    }

    void CheckEncodings(Writer w, ServerLimits limits, List<string> warnings)
    {
        if (w.OverLimit > 0)
            warnings.Add($"{w.OverLimit} hashes have a value over hash-max-listpack-value ({limits.MaxListpackValue} bytes; longest {w.LongestValue}) and are stored as hashtables: raise it in the Redis config");
        if (limits.MaxListpackEntries < RecordCodec.RecFields.Length || limits.MaxListpackEntries < RecordCodec.ProfileFields.Length)
            warnings.Add($"hash-max-listpack-entries is {limits.MaxListpackEntries}: rec and profile hashes need {RecordCodec.RecFields.Length} to stay listpack-encoded");
    }

    // Step 4 of a full sync.
    async Task PublishAsync(RedisState state, Writer w, HashEntry[] meta, CancellationToken ct)
    {
        var metaTemp = SyncKeys.Temp(keys.MetaStats.ToString());
        await Db.KeyDeleteAsync(metaTemp);
        await Db.HashSetAsync(metaTemp, meta);
        var stale = state.LiveIndexKeys.Where(k => !w.NewIndexKeys.Contains(k)).ToList();

        if (!RedisState.IsCluster(redis))
        {
            // Standalone: one transaction, so a reader sees the old indexes with the old meta or
            // the new indexes with the new meta, never a mix.
            var tx = Db.CreateTransaction();
            var ops = new List<Task>();
            foreach (var k in w.NewIndexKeys)
                ops.Add(tx.KeyRenameAsync(SyncKeys.Temp(k), k));
            foreach (var k in stale)
                ops.Add(tx.KeyDeleteAsync(k));
            ops.Add(tx.KeyRenameAsync(metaTemp, keys.MetaStats));
            if (!await tx.ExecuteAsync())
                throw new InvalidOperationException("the publish transaction was discarded");
            await Task.WhenAll(ops);
            return;
        }

        // Cluster: the keys live in different slots, so no transaction spans them. Each RENAME
        // is atomic (the temporary key shares its slot), so every index a reader sees is
        // complete; for the few milliseconds of this loop some indexes are new and some old, and
        // the meta follows last.
        foreach (var k in w.NewIndexKeys)
        {
            ct.ThrowIfCancellationRequested();
            await Db.KeyRenameAsync(SyncKeys.Temp(k), k);
        }
        foreach (var k in stale)
            await Db.KeyDeleteAsync(k);
        await Db.KeyRenameAsync(metaTemp, keys.MetaStats);
    }

    // The index part of an incremental sync: each changed subscriber leaves the indexes it was in
    // and joins its new ones; the gone ones leave theirs. Standalone: one transaction with the meta.
    async Task ApplyIncrementalIndexesAsync(RedisState state, Writer w, List<string> gone, HashEntry[] meta, CancellationToken ct)
    {
        var removals = new Dictionary<string, List<RedisValue>>(StringComparer.Ordinal);
        void Remove(string key, string isdn)
        {
            if (!removals.TryGetValue(key, out var l))
                removals[key] = l = [];
            l.Add(isdn);
        }
        foreach (var (isdn, m) in w.NewMembers)
        {
            if (!state.Members.TryGetValue(isdn, out var old) || old == m)
                continue;
            var now = m.IndexKeys(keys).ToHashSet(StringComparer.Ordinal);
            foreach (var k in old.IndexKeys(keys))
                if (!now.Contains(k))
                    Remove(k, isdn);
        }
        foreach (var isdn in gone)
            if (state.Members.TryGetValue(isdn, out var old))
                foreach (var k in old.IndexKeys(keys))
                    Remove(k, isdn);

        var cluster = RedisState.IsCluster(redis);
        IDatabaseAsync target = cluster ? Db : Db.CreateTransaction();
        var ops = new List<Task>();
        foreach (var (k, members) in removals)
        {
            var kind = SyncKeys.Classify(keys, k, out _);
            foreach (var chunk in members.Chunk(IndexChunk))
                ops.Add(kind == IndexKind.Service ? target.SortedSetRemoveAsync(k, chunk) : target.SetRemoveAsync(k, chunk));
        }
        foreach (var (k, entries) in w.PendingIndexAdds())
        {
            foreach (var chunk in entries.Chunk(IndexChunk))
            {
                ops.Add(SyncKeys.Classify(keys, k, out _) == IndexKind.Service
                    ? target.SortedSetAddAsync(k, [.. chunk.Select(e => new SortedSetEntry(e.Member, e.Score))])
                    : target.SetAddAsync(k, [.. chunk.Select(e => e.Member)]));
            }
        }
        ops.Add(target.HashSetAsync(keys.MetaStats, meta));
        ct.ThrowIfCancellationRequested();
        if (target is ITransaction tx && !await tx.ExecuteAsync())
            throw new InvalidOperationException("the incremental transaction was discarded");
        await Task.WhenAll(ops);
        // Meta fields of clusters that are now empty would otherwise linger.
        var live = meta.Select(e => e.Name.ToString()).ToHashSet(StringComparer.Ordinal);
        var fields = await Db.HashKeysAsync(keys.MetaStats);
        var extra = fields.Where(f => f.ToString().StartsWith("total_cluster_", StringComparison.Ordinal) && !live.Contains(f.ToString())).ToArray();
        if (extra.Length > 0)
            await Db.HashDeleteAsync(keys.MetaStats, extra);
    }

    // Two streams run side by side, each on its own PostgreSQL connection and its own Redis
    // pipeline: recommendations (rec hashes and the index members) and profiles (read with their
    // months in one snapshot). Each reads a row, encodes it straight into RESP and moves on; the
    // pipeline sends in large buffers and checks the replies concurrently (see RespPipeline).
    // ISDN ranges of the profiles: months of one are aggregated while the previous one streams.
    const int ProfileParts = 4;

    async Task StreamAsync(Writer w, DateTimeOffset? since, bool temp, Action<string> mark, CancellationToken ct)
    {
        // A full sync builds each index from scratch under its temporary name.
        w.BuildInTemp = temp;
        // If one stream fails (a Redis error, a timeout), the other must stop too.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pct = failed.Token;
        var sinceUtc = since?.UtcDateTime;
        var now = DateTimeOffset.UtcNow;

        async Task Guard(Func<Task> stream)
        {
            try
            {
                await Task.Yield();
                await stream();
            }
            catch
            {
                await failed.CancelAsync();
                throw;
            }
        }

        var recs = Guard(async () =>
        {
            await using var pipe = w.DryRun ? null : await RespPipeline.OpenAsync(redis, database, pct);
            var encoder = new RecordEncoder();
            await using (var conn = await db.OpenConnectionAsync(pct))
            {
                await foreach (var r in SubscriberQueries.StreamRecommendationsForSyncAsync(conn, sinceUtc, pct))
                    await w.AddRecAsync(r, encoder, pipe, pct);
            }
            mark("read recommendations");
            await w.FlushIndexesAsync(pipe, pct);
            if (pipe is not null)
                await pipe.CompleteAsync(pct);
            mark("write recs and indexes");
        });
        // Months are aggregated by PostgreSQL (its slowest query, ~4 s for the default dataset)
        // on a connection of their own, one ISDN range at a time, one range ahead of the profiles,
        // which follow on a second connection in the same snapshot (exported by the first) and
        // are joined with their months by ISDN in memory.
        var profiles = Guard(async () =>
        {
            await using var pipe = w.DryRun ? null : await RespPipeline.OpenAsync(redis, database, pct);
            var encoder = new RecordEncoder();
            await using var monthsConn = await db.OpenConnectionAsync(pct);
            await using var monthsTx = await monthsConn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, pct);
            string snapshot;
            await using (var export = new NpgsqlCommand("SELECT pg_export_snapshot()", monthsConn, monthsTx))
                snapshot = (string)(await export.ExecuteScalarAsync(pct))!;
            await using var conn = await db.OpenConnectionAsync(pct);
            await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, pct);
            await using (var import = new NpgsqlCommand($"SET TRANSACTION SNAPSHOT '{snapshot.Replace("'", "''", StringComparison.Ordinal)}'", conn, tx))
                await import.ExecuteNonQueryAsync(pct);
            var ranges = since is null ? await SubscriberQueries.SplitProfilesAsync(monthsConn, ProfileParts, pct) : [IsdnRange.All];
            // For an ISDN range the planner prefers a bitmap scan and a sort; the ordered index
            // scan of (isdn, data_month) needs neither and costs a third less PostgreSQL CPU
            // (1.1 s against 1.5 s per quarter of the default dataset). This transaction only.
            await using (var plan = new NpgsqlCommand("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off", monthsConn, monthsTx))
                await plan.ExecuteNonQueryAsync(pct);

            var ready = System.Threading.Channels.Channel.CreateBounded<MonthlyJson>(1);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(pct);
            var monthsReader = Task.Run(async () =>
            {
                try
                {
                    foreach (var range in ranges)
                        await ready.Writer.WriteAsync(await SubscriberQueries.ReadMonthlyJsonAsync(monthsConn, sinceUtc, range, stop.Token), stop.Token);
                    ready.Writer.TryComplete();
                }
                catch (Exception ex)
                {
                    ready.Writer.TryComplete(ex);
                    throw;
                }
            }, stop.Token);
            try
            {
                var part = 0;
                await foreach (var months in ready.Reader.ReadAllAsync(pct))
                {
                    if (part == 0)
                        mark("read months (first part)");
                    await foreach (var p in SubscriberQueries.StreamProfileRowsAsync(conn, sinceUtc, ranges[part++], pct))
                    {
                        // The row's own updated_at, so the hash depends on the data alone (a dual
                        // write and a later sync write the same bytes).
                        var updated = p.UpdatedAt is { } u ? new DateTimeOffset(DateTime.SpecifyKind(u, DateTimeKind.Utc)) : now;
                        await w.AddProfileAsync(p, months.For(p.Isdn), updated, encoder, pipe, pct);
                    }
                }
                await monthsReader;
            }
            finally
            {
                // On failure the months reader may be waiting on the channel or PostgreSQL: stop it
                // before its connection goes away.
                await stop.CancelAsync();
                try { await monthsReader; } catch (Exception) when (!monthsReader.IsCompletedSuccessfully) { /* reported by the stream itself */ }
            }
            await monthsTx.CommitAsync(pct);
            await tx.CommitAsync(pct);
            mark("read profiles");
            if (pipe is not null)
                await pipe.CompleteAsync(pct);
            mark("write profiles");
        });
        try
        {
            await Task.WhenAll(recs, profiles);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // A sibling failed and cancelled the rest: report that failure, not the cancellation.
            var first = new[] { recs, profiles }
                .Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException);
            if (first is not null)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }
    }

    async Task<long> CountAsync(DateTimeOffset? since, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(since is null
            ? "SELECT count(*) FROM recommendations"
            : "SELECT count(*) FROM recommendations WHERE updated_at >= @since");
        if (since is { } s)
            cmd.Parameters.AddWithValue("since", s.UtcDateTime);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    async Task<HashSet<string>> IsdnsAsync(string sql, CancellationToken ct)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        await using var cmd = db.CreateCommand(sql);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            set.Add(r.GetString(0));
        return set;
    }

    async Task<string> DataVersionAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT data_version FROM data_loads
             ORDER BY (outcome = 'succeeded') DESC, started_at DESC, id DESC LIMIT 1
            """);
        return await cmd.ExecuteScalarAsync(ct) as string ?? "none";
    }

    async Task<DateTimeOffset?> OldestNeedingSyncAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT min(started_at) FROM data_loads WHERE needs_sync");
        return await cmd.ExecuteScalarAsync(ct) is DateTime t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null;
    }

    // A full sync read every row after it started, so it repairs every load that finished
    // before; an incremental one repairs the loads inside its window.
    async Task ClearNeedsSyncAsync(DateTimeOffset? since, DateTimeOffset startedAt, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(since is null
            ? "UPDATE data_loads SET needs_sync = false WHERE needs_sync AND coalesce(finished_at, started_at) <= @started"
            : "UPDATE data_loads SET needs_sync = false WHERE needs_sync AND started_at >= @since AND coalesce(finished_at, started_at) <= @started");
        cmd.Parameters.AddWithValue("started", startedAt.UtcDateTime);
        if (since is { } s)
            cmd.Parameters.AddWithValue("since", s.UtcDateTime);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// Keeps the books of one sync (members, meta, who was seen) and writes its rec and profile
    /// hashes and temporary index chunks into the bulk pipelines.
    sealed class Writer(SyncEngine e, bool dryRun, ServerLimits limits, IProgress<SyncProgress>? progress, long total)
    {
        static readonly long TtlSeconds = (long)Ttl.TotalSeconds;
        readonly Dictionary<string, List<(string Member, double Score)>> _indexBuffers = new(StringComparer.Ordinal);
        readonly Dictionary<string, List<(RedisValue Member, double Score)>> _incrementalAdds = new(StringComparer.Ordinal);
        readonly Dictionary<(IndexKind, string), string> _indexKeyNames = [];
        readonly byte[] _recPrefix = Encoding.UTF8.GetBytes(e.Keys.Namespace + ":rec:");
        readonly byte[] _profilePrefix = Encoding.UTF8.GetBytes(e.Keys.Namespace + ":profile:");
        byte[] _recKey = new byte[256], _profileKey = new byte[256];
        long _keysWritten;
        int _recs, _profiles, _overLimit, _longest;

        public bool DryRun => dryRun;
        public bool BuildInTemp { get; set; }
        public MetaStats Meta { get; } = new();
        public HashSet<string> RecIsdns { get; } = new(StringComparer.Ordinal);
        public HashSet<string> ProfileIsdns { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, Membership> NewMembers { get; } = new(StringComparer.Ordinal);
        public HashSet<string> NewIndexKeys { get; } = new(StringComparer.Ordinal);
        public long KeysWritten => Interlocked.Read(ref _keysWritten);
        public int Recs => _recs;
        public int ProfilesWritten => _profiles;
        public int OverLimit => _overLimit;
        public int LongestValue => _longest;

        RedisKeys Keys => e.Keys;

        // The live index names of a subscriber, built once per distinct value.
        string IndexKey(IndexKind kind, string value)
        {
            if (!_indexKeyNames.TryGetValue((kind, value), out var name))
            {
                RedisKey key = kind switch
                {
                    IndexKind.Service => Keys.ServiceIndex(value),
                    IndexKind.Risk => Keys.RiskIndex(value),
                    _ => Keys.ClusterIndex(value),
                };
                name = key.ToString();
                _indexKeyNames[(kind, value)] = name;
            }
            return name;
        }

        public async ValueTask AddRecAsync(Recommendation r, RecordEncoder encoder, RespPipeline? pipe, CancellationToken ct)
        {
            RecIsdns.Add(r.Isdn);
            lock (Meta)
                Meta.Add(r);
            var cluster = r.ClusterGroup?.ToString(CultureInfo.InvariantCulture);
            NewMembers[r.Isdn] = new Membership(r.ServiceType, r.BadDebtRisk, cluster);
            var score = r.CustomerValueScore is { } cv && r.AdvanceReadinessScore is { } ar ? Priority.IndexScore(cv, ar) : 0d;
            await AddToIndexAsync(IndexKey(IndexKind.Service, r.ServiceType), r.Isdn, score, pipe, ct);
            await AddToIndexAsync(IndexKey(IndexKind.Risk, r.BadDebtRisk), r.Isdn, score, pipe, ct);
            if (cluster is not null)
                await AddToIndexAsync(IndexKey(IndexKind.Cluster, cluster), r.Isdn, score, pipe, ct);
            Interlocked.Add(ref _keysWritten, 1);
            if (pipe is not null)
            {
                var node = HashCommand(pipe, _recPrefix, ref _recKey, r.Isdn, RecordEncoder.RecFieldCount, out var keyLength);
                encoder.WriteRec(r, node.Out);
                Track(node.Out.LongestValue);
                Expire(node.Out, _recKey.AsSpan(0, keyLength));
                await pipe.SentAsync(node, 2, ct);
            }
            if (++_recs % 1000 == 0)
            {
                progress?.Report(new SyncProgress("writing", _recs, total));
                if (pipe is { ErrorsSoFar: > 0 })
                    await pipe.CompleteAsync(ct);  // throws with the errors
                ct.ThrowIfCancellationRequested();
            }
        }

        // Not async (a span parameter): the encoding is synchronous, only the send may wait.
        public ValueTask AddProfileAsync(Profile p, ReadOnlySpan<byte> monthlyJson, DateTimeOffset updatedAt, RecordEncoder encoder,
            RespPipeline? pipe, CancellationToken ct)
        {
            ProfileIsdns.Add(p.Isdn);
            var count = Interlocked.Increment(ref _profiles);
            lock (Meta)
            {
                Meta.RevenuePotentialSum += p.RevenuePotential ?? 0;
                Meta.Profiles = count;
            }
            Interlocked.Add(ref _keysWritten, 1);
            if (pipe is null)
                return ValueTask.CompletedTask;
            var node = HashCommand(pipe, _profilePrefix, ref _profileKey, p.Isdn, RecordEncoder.ProfileFieldCount, out var keyLength);
            encoder.WriteProfile(p, monthlyJson, updatedAt, node.Out);
            Track(node.Out.LongestValue);
            Expire(node.Out, _profileKey.AsSpan(0, keyLength));
            return SentAsync(pipe, node, count, ct);
        }

        static async ValueTask SentAsync(RespPipeline pipe, RespPipeline.Node node, int count, CancellationToken ct)
        {
            await pipe.SentAsync(node, 2, ct);
            if (count % 1000 == 0)
            {
                if (pipe.ErrorsSoFar > 0)
                    await pipe.CompleteAsync(ct);  // throws with the errors
                ct.ThrowIfCancellationRequested();
            }
        }

        // HSET key f1 v1 … (the caller writes the fields), on the connection serving the key.
        static RespPipeline.Node HashCommand(RespPipeline pipe, byte[] prefix, ref byte[] keyBuffer, string isdn, int fields, out int keyLength)
        {
            var need = prefix.Length + Encoding.UTF8.GetMaxByteCount(isdn.Length);
            if (keyBuffer.Length < need)
                keyBuffer = new byte[need * 2];
            prefix.CopyTo(keyBuffer, 0);
            keyLength = prefix.Length + Encoding.UTF8.GetBytes(isdn, keyBuffer.AsSpan(prefix.Length));
            var key = keyBuffer.AsSpan(0, keyLength);
            var node = pipe.For(key);
            node.Out.Command(2 + 2 * fields);
            node.Out.Bulk("HSET"u8);
            node.Out.Bulk(key);
            node.Out.LongestValue = 0;
            return node;
        }

        static void Expire(RespBuffer b, ReadOnlySpan<byte> key)
        {
            b.Command(3);
            b.Bulk("EXPIRE"u8);
            b.Bulk(key);
            b.Bulk(TtlSeconds);
        }

        void Track(int longest)
        {
            if (longest > _longest)
                Interlocked.Exchange(ref _longest, longest);
            if (longest > limits.MaxListpackValue)
                Interlocked.Increment(ref _overLimit);
        }

        async ValueTask AddToIndexAsync(string liveKey, string isdn, double score, RespPipeline? pipe, CancellationToken ct)
        {
            NewIndexKeys.Add(liveKey);
            if (!BuildInTemp)
            {
                if (!_incrementalAdds.TryGetValue(liveKey, out var adds))
                    _incrementalAdds[liveKey] = adds = new List<(RedisValue, double)>();
                adds.Add((isdn, score));
                return;
            }
            if (!_indexBuffers.TryGetValue(liveKey, out var buf))
                _indexBuffers[liveKey] = buf = new List<(string, double)>(IndexChunk);
            buf.Add((isdn, score));
            if (buf.Count >= IndexChunk)
            {
                await FlushIndexAsync(liveKey, buf, pipe, ct);
                buf.Clear();
            }
        }

        // ZADD/SADD of up to IndexChunk members into the temporary index.
        async ValueTask FlushIndexAsync(string liveKey, List<(string Member, double Score)> buf, RespPipeline? pipe, CancellationToken ct)
        {
            if (pipe is null || buf.Count == 0)
                return;
            var key = Encoding.UTF8.GetBytes(SyncKeys.Temp(liveKey).ToString());
            var node = pipe.For(key);
            var zset = SyncKeys.Classify(Keys, liveKey, out _) == IndexKind.Service;
            var b = node.Out;
            b.Command(2 + buf.Count * (zset ? 2 : 1));
            b.Bulk(zset ? "ZADD"u8 : "SADD"u8);
            b.Bulk(key);
            foreach (var (member, score) in buf)
            {
                if (zset)
                    b.Bulk(score);
                b.Bulk(member);
            }
            await pipe.SentAsync(node, 1, ct);
        }

        public async Task FlushIndexesAsync(RespPipeline? pipe, CancellationToken ct)
        {
            foreach (var (k, buf) in _indexBuffers)
            {
                await FlushIndexAsync(k, buf, pipe, ct);
                buf.Clear();
            }
        }

        public IEnumerable<KeyValuePair<string, List<(RedisValue Member, double Score)>>> PendingIndexAdds() => _incrementalAdds;
    }
}
