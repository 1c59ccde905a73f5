using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
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
///  2. stream recommendations and profiles from PostgreSQL (two connections, in parallel),
///     writing every rec/profile hash with its 7-day TTL and the new indexes under temporary
///     keys "{live}:next", pipelined;
///  3. record the subscribers gone from PostgreSQL in a pending-deletion set;
///  4. publish: RENAME every temporary index over its live key, drop indexes that became empty,
///     RENAME the new meta over ut360:meta:stats (standalone: one MULTI/EXEC, so indexes and meta
///     change together; Cluster: key by key, each key atomic);
///  5. delete the gone subscribers' keys, then the pending set.
/// A kill before 4 leaves the previous indexes and meta live; a kill in 4–5 leaves the pending
/// set, which the next sync deletes too. Temporary keys left behind are dropped at step 1.
public sealed class SyncEngine(NpgsqlDataSource db, IConnectionMultiplexer redis, RedisKeys keys, int database = -1)
{
    const int Window = 8192;        // outstanding Redis commands before we await them
    const int IndexChunk = 1000;    // members per ZADD/SADD/ZREM/SREM
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
            long? id = request.DryRun ? null : await SyncRuns.RecordSkippedAsync(db, request.Kind, request.Trigger, message, ct);
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
                (runId, started) = await SyncRuns.StartAsync(db, request.Kind, request.Trigger, request.ChangedSince, ct);
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
        var goneKey = keys.PendingGone();
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
            await Db.KeyDeleteAsync(goneKey);
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

    // PostgreSQL rows are read and encoded by several producers (each its own connection and a
    // share of the ids), which is where the CPU goes; one consumer per table pipelines the writes.
    const int ProfileParts = 2;
    const int RecParts = 1;

    async Task StreamAsync(Writer w, DateTimeOffset? since, bool temp, Action<string> mark, CancellationToken ct)
    {
        // A full sync builds each index from scratch under its temporary name.
        w.BuildInTemp = temp;
        // If a consumer fails (a Redis timeout), the producers must stop too, or they would wait
        // forever on a full channel.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pct = failed.Token;
        var recChannel = Channel.CreateBounded<(Recommendation, HashEntry[])>(new BoundedChannelOptions(4096) { SingleReader = true });
        var profileChannel = Channel.CreateBounded<(Profile, HashEntry[])>(new BoundedChannelOptions(4096) { SingleReader = true });
        var now = DateTimeOffset.UtcNow;

        async Task ProduceRecs(int part)
        {
            await using var conn = await db.OpenConnectionAsync(pct);
            await foreach (var r in SubscriberQueries.StreamRecommendationsAsync(conn, since?.UtcDateTime, part, RecParts, pct))
            {
                var entries = RecordCodec.EncodeRec(r);
                w.Measure(entries);
                await recChannel.Writer.WriteAsync((r, entries), pct);
            }
        }

        async Task ProduceProfiles(int part)
        {
            await using var conn = await db.OpenConnectionAsync(pct);
            await foreach (var p in SubscriberQueries.StreamProfilesAsync(conn, since?.UtcDateTime, part, ProfileParts, pct))
            {
                // The row's own updated_at, so the hash depends on the data alone (a dual write
                // and a later sync write the same bytes).
                var updated = p.UpdatedAt is { } u ? new DateTimeOffset(DateTime.SpecifyKind(u, DateTimeKind.Utc)) : now;
                var entries = RecordCodec.EncodeProfile(p, updated);
                w.Measure(entries);
                await profileChannel.Writer.WriteAsync((p, entries), pct);
            }
        }

        async Task All(IEnumerable<Task> producers, ChannelWriter<(Recommendation, HashEntry[])>? a, ChannelWriter<(Profile, HashEntry[])>? b)
        {
            try
            {
                await Task.WhenAll(producers);
            }
            catch
            {
                failed.Cancel();
                throw;
            }
            finally
            {
                a?.TryComplete();
                b?.TryComplete();
            }
        }

        var recProducers = All(Enumerable.Range(0, RecParts).Select(i => Task.Run(() => ProduceRecs(i), ct)).ToList(), recChannel.Writer, null);
        var profileProducers = All(Enumerable.Range(0, ProfileParts).Select(i => Task.Run(() => ProduceProfiles(i), ct)).ToList(), null, profileChannel.Writer);

        async Task Guard(Func<Task> consumer)
        {
            try
            {
                await consumer();
            }
            catch
            {
                failed.Cancel();
                throw;
            }
        }

        var recs = Guard(async () =>
        {
            await Task.Yield();
            await foreach (var (r, entries) in recChannel.Reader.ReadAllAsync(pct))
                await w.AddRecAsync(r, entries, ct);
            await recProducers;
            mark("read recommendations");
            await w.FlushIndexesAsync(ct);
            await w.DrainRecsAsync();
            mark("write recs and indexes");
        });
        var profiles = Guard(async () =>
        {
            await Task.Yield();
            await foreach (var (p, entries) in profileChannel.Reader.ReadAllAsync(pct))
                await w.AddProfileAsync(p, entries, ct);
            await profileProducers;
            mark("read profiles");
            await w.DrainProfilesAsync();
            mark("write profiles");
        });
        try
        {
            await Task.WhenAll(recs, profiles, recProducers, profileProducers);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // A sibling failed and cancelled the rest: report that failure, not the cancellation.
            var first = new[] { recs, profiles, recProducers, profileProducers }
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

    /// Pipelines the writes of one sync: many commands in flight, awaited in windows.
    sealed class Writer(SyncEngine e, bool dryRun, ServerLimits limits, IProgress<SyncProgress>? progress, long total)
    {
        // Sliding windows: awaiting the oldest command (not the whole batch) keeps the pipe to
        // Redis full while PostgreSQL rows keep arriving.
        readonly Queue<Task> _recTasks = new(Window + 64);
        readonly Queue<Task> _profileTasks = new(Window + 64);
        readonly Dictionary<string, List<(RedisValue Member, double Score)>> _indexBuffers = new(StringComparer.Ordinal);
        readonly Dictionary<string, List<(RedisValue Member, double Score)>> _incrementalAdds = new(StringComparer.Ordinal);
        long _keysWritten;
        int _recs, _profiles, _overLimit, _longest;

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

        IDatabase Db => e.Db;
        RedisKeys Keys => e.Keys;

        // Commands go out in batches of a few hundred: one socket write per batch instead of
        // one per command (the multiplexer otherwise flushes as soon as its queue runs dry).
        const int BatchSize = 512;
        IBatch? _recBatch, _profileBatch;
        int _recBatched, _profileBatched;

        IBatch RecBatch()
        {
            _recBatch ??= Db.CreateBatch();
            if ((_recBatched += 2) >= BatchSize)
            {
                var b = _recBatch;
                _recBatch = null;
                _recBatched = 0;
                _pendingExecute = b;
                return b;
            }
            return _recBatch;
        }

        IBatch ProfileBatch()
        {
            _profileBatch ??= Db.CreateBatch();
            if ((_profileBatched += 2) >= BatchSize)
            {
                var b = _profileBatch;
                _profileBatch = null;
                _profileBatched = 0;
                _pendingProfileExecute = b;
                return b;
            }
            return _profileBatch;
        }

        IBatch? _pendingExecute, _pendingProfileExecute;

        void ExecuteRecBatch(bool all)
        {
            if (_pendingExecute is { } b)
            {
                b.Execute();
                _pendingExecute = null;
            }
            if (all && _recBatch is { } open)
            {
                open.Execute();
                _recBatch = null;
                _recBatched = 0;
            }
        }

        void ExecuteProfileBatch(bool all)
        {
            if (_pendingProfileExecute is { } b)
            {
                b.Execute();
                _pendingProfileExecute = null;
            }
            if (all && _profileBatch is { } open)
            {
                open.Execute();
                _profileBatch = null;
                _profileBatched = 0;
            }
        }

        public async ValueTask AddRecAsync(Recommendation r, HashEntry[] entries, CancellationToken ct)
        {
            RecIsdns.Add(r.Isdn);
            Meta.Add(r);
            var m = new Membership(r.ServiceType, r.BadDebtRisk, r.ClusterGroup?.ToString(CultureInfo.InvariantCulture));
            NewMembers[r.Isdn] = m;
            var score = r.CustomerValueScore is { } cv && r.AdvanceReadinessScore is { } ar ? Priority.IndexScore(cv, ar) : 0d;
            foreach (var k in m.IndexKeys(Keys))
            {
                NewIndexKeys.Add(k);
                var buffers = BuildInTemp ? _indexBuffers : _incrementalAdds;
                if (!buffers.TryGetValue(k, out var buf))
                    buffers[k] = buf = new List<(RedisValue, double)>(IndexChunk);
                buf.Add((r.Isdn, score));
                if (BuildInTemp && buf.Count >= IndexChunk)
                {
                    FlushIndex(k, buf);
                    buf.Clear();
                }
            }
            Interlocked.Add(ref _keysWritten, 1);
            if (!dryRun)
            {
                var key = Keys.Rec(r.Isdn);
                var batch = RecBatch();
                _recTasks.Enqueue(batch.HashSetAsync(key, entries));
                _recTasks.Enqueue(batch.KeyExpireAsync(key, Ttl));
            }
            ExecuteRecBatch(all: false);
            if (++_recs % 1000 == 0)
                progress?.Report(new SyncProgress("writing", _recs, total));
            while (_recTasks.Count >= Window)
                await _recTasks.Dequeue();
            ct.ThrowIfCancellationRequested();
        }

        public async ValueTask AddProfileAsync(Profile p, HashEntry[] entries, CancellationToken ct)
        {
            ProfileIsdns.Add(p.Isdn);
            lock (Meta)
                Meta.RevenuePotentialSum += p.RevenuePotential ?? 0;
            Interlocked.Increment(ref _profiles);
            Meta.Profiles = _profiles;
            Interlocked.Add(ref _keysWritten, 1);
            if (!dryRun)
            {
                var key = Keys.Profile(p.Isdn);
                var batch = ProfileBatch();
                _profileTasks.Enqueue(batch.HashSetAsync(key, entries));
                _profileTasks.Enqueue(batch.KeyExpireAsync(key, Ttl));
            }
            ExecuteProfileBatch(all: false);
            while (_profileTasks.Count >= Window)
                await _profileTasks.Dequeue();
            ct.ThrowIfCancellationRequested();
        }

        public void Measure(HashEntry[] entries)
        {
            foreach (var h in entries)
            {
                var len = Encoding.UTF8.GetByteCount((string)h.Value!);
                if (len > _longest)
                    Interlocked.Exchange(ref _longest, len);
                if (len > limits.MaxListpackValue)
                {
                    Interlocked.Increment(ref _overLimit);
                    return;
                }
            }
        }

        void FlushIndex(string liveKey, List<(RedisValue Member, double Score)> buf)
        {
            if (dryRun || buf.Count == 0)
                return;
            var key = SyncKeys.Temp(liveKey);
            _recTasks.Enqueue(SyncKeys.Classify(Keys, liveKey, out _) == IndexKind.Service
                ? Db.SortedSetAddAsync(key, [.. buf.Select(b => new SortedSetEntry(b.Member, b.Score))])
                : Db.SetAddAsync(key, [.. buf.Select(b => b.Member)]));
        }

        public Task FlushIndexesAsync(CancellationToken ct)
        {
            foreach (var (k, buf) in _indexBuffers)
            {
                FlushIndex(k, buf);
                buf.Clear();
            }
            return Task.CompletedTask;
        }

        public IEnumerable<KeyValuePair<string, List<(RedisValue Member, double Score)>>> PendingIndexAdds() => _incrementalAdds;

        public async Task DrainRecsAsync()
        {
            ExecuteRecBatch(all: true);
            await Task.WhenAll(_recTasks);
            _recTasks.Clear();
        }

        public async Task DrainProfilesAsync()
        {
            ExecuteProfileBatch(all: true);
            await Task.WhenAll(_profileTasks);
            _profileTasks.Clear();
        }
    }
}
