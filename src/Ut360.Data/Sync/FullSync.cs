using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Domain;
using Ut360.Data.Records;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// A full sync, in order (see docs/redis.md for what a reader can observe at each step):
///  1. read what Redis holds: live index keys and members, leftovers of a killed sync;
///  2. in one PostgreSQL snapshot (SyncSnapshot), stream recommendations and profiles (two
///     streams in parallel), writing every rec/profile hash with its 7-day TTL and the new
///     indexes under temporary keys "{live}:next" (RedisBulk: pipelined, every reply checked);
///  3. record the subscribers gone from PostgreSQL in a pending-deletion set;
///  4. publish: RENAME every temporary index over its live key, drop indexes that became empty,
///     RENAME the new meta over ut360:meta:stats (standalone: one MULTI/EXEC, so indexes and meta
///     change together; Cluster: key by key, each key atomic);
///  5. announce the publish (API near caches drop their pages), wait DepartureGrace, then
///     delete the gone subscribers' keys, then move the pending set into the recently-deleted
///     one (RedisKeys.SyncDeleted), which keeps API write-backs from bringing them back.
/// A kill before 4 leaves the previous indexes and meta live; a kill in 4–5 leaves the pending
/// set, which the next sync deletes too. Temporary keys left behind are dropped at step 1. A kill
/// anywhere after step 1 leaves the writing mark, and the next full sync sweeps the records no
/// index lists (StraySweep).
sealed class FullSync(SyncContext t)
{
    // ISDN ranges of the profiles: months of one are aggregated while the previous one streams.
    const int ProfileParts = 4;

    public async Task<SyncResult> RunAsync(SyncRequest request, long runId, Stopwatch clock, IProgress<SyncProgress>? progress, CancellationToken ct)
    {
        var warnings = new List<string>();
        var timings = new List<(string, TimeSpan)>();
        void Mark(string phase)
        {
            lock (timings)
                timings.Add((phase, clock.Elapsed));
        }
        RedisState.RequireAllConnected(t.Redis);
        var limits = await ServerLimits.ReadAsync(t.Redis, warnings);
        var evictedBefore = await ServerLimits.EvictionAsync(t.Redis);

        progress?.Report(new SyncProgress("reading Redis", 0, 0));
        var state = await RedisState.ReadKeysAsync(t.Redis, t.Keys, t.DbNumber, ct);
        var sweep = !request.DryRun && await StraySweep.MarkFullAsync(t, runId);
        if (!request.DryRun)
            await t.RedisDb.StringSetAsync(t.Keys.SyncServer, await SyncWatchdog.ServerRunIdAsync(t.Redis));
        if (!request.DryRun && state.LeftoverTempKeys.Count > 0)
            await Task.WhenAll(state.LeftoverTempKeys.Select(k => t.RedisDb.KeyDeleteAsync(k)));
        Mark("read Redis");

        // The snapshot stays open to the end of the run: the gone subscribers are a table of its
        // transaction (MembershipDiff), read again when their keys are deleted.
        await using var snapshot = await SyncSnapshot.BeginAsync(t.Db, ct);
        var w = new Writer(t, request.DryRun, limits, progress);
        var dataVersion = await snapshot.DataVersionAsync(ct);
        var published = await snapshot.NeedingSyncAsync(ct);
        var lastLoad = await snapshot.LastFinishedLoadAsync(ct);
        w.Total = await CountAsync(snapshot.Connection, ct);
        var ranges = await SubscriberQueries.SplitProfilesAsync(snapshot.Connection, MonthParts(w.Total), ct);
        var monthsConn = await snapshot.OpenAsync(ct);
        var profilesConn = await snapshot.OpenAsync(ct);
        await StreamAsync(w, snapshot.Connection, monthsConn, profilesConn, ranges, Mark, ct);

        // Who is gone, added and moved: the members of the old indexes (read now: this run has
        // not touched the live keys) and of a killed sync's pending set, against PostgreSQL.
        progress?.Report(new SyncProgress("reading indexes", 0, 0));
        var diff = await MembershipDiff.BeginAsync(snapshot.Connection, ct);
        await diff.AddIndexMembersAsync(t.RedisDb, t.Keys, state.LiveIndexKeys, progress, ct);
        Mark("read indexes");
        foreach (var isdn in state.PendingGone)
            await diff.AddAsync(isdn, "pending", null, ct);
        if (sweep)
        {
            // An earlier run stopped mid-write: its records may be listed nowhere.
            progress?.Report(new SyncProgress("sweeping", 0, 0));
            await foreach (var (isdn, isRec) in StraySweep.ScanAsync(t, ct))
                await diff.AddAsync(isdn, isRec ? "rec" : "profile", null, ct);
            Mark("sweep");
        }
        var counts = await diff.CompleteAsync(ct);
        Mark("diff");

        var result = new SyncResult
        {
            Outcome = SyncOutcome.DryRun, Kind = request.Kind, DataVersion = dataVersion,
            Subscribers = w.Recs, Profiles = w.ProfilesWritten, KeysWritten = w.KeysWritten,
            KeysDeleted = counts.GoneRec + counts.GoneProfile, SubscribersAdded = (int)counts.Added, SubscribersRemoved = (int)counts.Removed,
            IndexMoves = (int)counts.Moves, Warnings = warnings, TotalSubscribersInRedis = w.Meta.Subscribers,
            IndexCounts = SyncContext.IndexCounts(w.Meta), Timings = timings,
        };
        if (request.DryRun)
            return result with { Message = $"would write {w.KeysWritten} keys, delete {counts.GoneRec + counts.GoneProfile}, move {counts.Moves} subscribers between indexes" };

        // Under maxmemory, Redis makes room by evicting keys with a TTL, which includes what this
        // sync just wrote: publishing would announce records that are not there. Fail the run
        // with the numbers instead; the previous indexes and meta stay live.
        if ((await ServerLimits.EvictionAsync(t.Redis))?.Since(evictedBefore, w.KeysWritten) is { } evicted)
            return result with { Outcome = SyncOutcome.Failed, Message = evicted };

        await RememberGoneAsync(diff, ct);

        progress?.Report(new SyncProgress("publishing", 0, 0));
        ct.ThrowIfCancellationRequested();
        var metaHash = w.Meta.ToHash(dataVersion, DateTimeOffset.UtcNow, runId, request.Kind, null);
        await PublishAsync(state, w, metaHash, ct);
        // Near caches drop the previous version's pages now, not at the end of the run: a page
        // they kept would list subscribers whose records are about to go.
        await t.AnnounceAsync(runId);
        Mark("publish");

        progress?.Report(new SyncProgress("deleting", 0, counts.Gone));
        if (counts.Gone > 0)
        {
            // A request that read a previous index just before the publish still finds the
            // records it lists; an API that missed the announcement clears within its meta poll.
            await Task.Delay(SyncContext.DepartureGrace, ct);
        }
        ct.ThrowIfCancellationRequested();
        var deleted = await DeleteGoneAsync(diff, ct);
        if (counts.Gone > 0 || state.PendingGone.Count > 0)
            await t.RetireGoneAsync();
        Mark("delete");

        await t.RedisDb.HashSetAsync(t.Keys.MetaStats, "sync_duration_ms", (long)clock.Elapsed.TotalMilliseconds);
        await t.FinishLoadsAsync(published, lastLoad, ct);
        await StraySweep.ClearFullAsync(t);

        SyncContext.CheckEncodings(w.OverLimit, w.LongestValue, limits, warnings);
        var used = await ServerLimits.UsedMemoryAsync(t.Redis);
        return result with { Outcome = SyncOutcome.Succeeded, KeysDeleted = deleted, UsedMemory = used };
    }

    static async Task<long> CountAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM recommendations", conn);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    // Subscribers per ISDN range of the profile stream: a range's monthly JSON is held whole
    // (about 700 bytes a subscriber) while the previous range streams, so the number of ranges
    // grows with the data and the memory does not (4 ranges at 10x held ~750 MB).
    const int MonthsPerPart = 50_000;

    internal static int MonthParts(long subscribers) =>
        (int)Math.Clamp((subscribers + MonthsPerPart - 1) / MonthsPerPart, ProfileParts, 100_000);

    // Step 3: the pending-deletion set, before anything stops pointing at the gone subscribers.
    async Task RememberGoneAsync(MembershipDiff diff, CancellationToken ct)
    {
        await using var bulk = new RedisBulk(ct);
        var chunk = new List<RedisValue>(SyncContext.IndexChunk);
        await foreach (var (isdn, _, _) in diff.GoneAsync(ct))
        {
            chunk.Add(isdn);
            if (chunk.Count == SyncContext.IndexChunk)
            {
                await bulk.AddAsync(t.RedisDb.SetAddAsync(t.Keys.SyncGone, [.. chunk]));
                chunk.Clear();
            }
        }
        if (chunk.Count > 0)
            await bulk.AddAsync(t.RedisDb.SetAddAsync(t.Keys.SyncGone, [.. chunk]));
        await bulk.CompleteAsync();
    }

    // Step 5: the gone subscribers' keys, a window of deletes in flight at a time. Returns the
    // keys deleted.
    async Task<long> DeleteGoneAsync(MembershipDiff diff, CancellationToken ct)
    {
        long deleted = 0;
        var window = new List<Task<bool>>(SyncContext.IndexChunk * 2);
        await foreach (var (isdn, rec, profile) in diff.GoneAsync(ct))
        {
            if (rec)
                window.Add(t.RedisDb.KeyDeleteAsync(t.Keys.Rec(isdn)));
            if (profile)
                window.Add(t.RedisDb.KeyDeleteAsync(t.Keys.Profile(isdn)));
            if (window.Count >= SyncContext.IndexChunk)
            {
                deleted += (await Task.WhenAll(window)).Count(ok => ok);
                window.Clear();
            }
        }
        deleted += (await Task.WhenAll(window)).Count(ok => ok);
        return deleted;
    }

    // Step 4.
    async Task PublishAsync(RedisState state, Writer w, HashEntry[] meta, CancellationToken ct)
    {
        var db = t.RedisDb;
        var metaTemp = SyncKeys.Temp(t.Keys.MetaStats.ToString());
        await db.KeyDeleteAsync(metaTemp);
        await db.HashSetAsync(metaTemp, meta);
        var stale = state.LiveIndexKeys.Where(k => !w.NewIndexKeys.Contains(k)).ToList();

        if (!t.IsCluster)
        {
            // Standalone: one transaction, so a reader sees the old indexes with the old meta or
            // the new indexes with the new meta, never a mix.
            var tx = db.CreateTransaction();
            var ops = new List<Task>();
            foreach (var k in w.NewIndexKeys)
                ops.Add(tx.KeyRenameAsync(SyncKeys.Temp(k), k));
            foreach (var k in stale)
                ops.Add(tx.KeyDeleteAsync(k));
            ops.Add(tx.KeyRenameAsync(metaTemp, t.Keys.MetaStats));
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
            await db.KeyRenameAsync(SyncKeys.Temp(k), k);
        }
        foreach (var k in stale)
            await db.KeyDeleteAsync(k);
        await db.KeyRenameAsync(metaTemp, t.Keys.MetaStats);
    }

    // Two streams run side by side, each on its own connection of the snapshot and its own
    // RedisBulk: recommendations (rec hashes and the index members) and profiles. Each reads a
    // row, encodes it straight to UTF-8 and moves on. Months are aggregated by PostgreSQL (its
    // slowest query, ~4 s for the default dataset) on a connection of their own, one ISDN range
    // at a time, one range ahead of the profiles, and joined with them by ISDN in memory.
    async Task StreamAsync(Writer w, NpgsqlConnection recsConn, NpgsqlConnection monthsConn, NpgsqlConnection profilesConn,
        IReadOnlyList<IsdnRange> ranges, Action<string> mark, CancellationToken ct)
    {
        // If one stream fails (a Redis error, a timeout), the other must stop too.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pct = failed.Token;
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
            await using var bulk = new RedisBulk(pct);
            var encoder = new RecordEncoder();
            var sink = new HashEntrySink(RecordEncoder.RecFieldCount);
            await foreach (var r in SubscriberQueries.StreamRecommendationsForSyncAsync(recsConn, null, pct))
                await w.AddRecAsync(r, encoder, sink, bulk, pct);
            mark("read recommendations");
            await w.FlushIndexesAsync(bulk);
            await bulk.CompleteAsync();
            mark("write recs and indexes");
        });
        var profiles = Guard(async () =>
        {
            await using var bulk = new RedisBulk(pct);
            var encoder = new RecordEncoder();
            var sink = new HashEntrySink(RecordEncoder.ProfileFieldCount);
            // For an ISDN range the planner prefers a bitmap scan and a sort; the ordered index
            // scan of (isdn, data_month) needs neither and costs a third less PostgreSQL CPU
            // (1.1 s against 1.5 s per quarter of the default dataset). This transaction only.
            await using (var plan = new NpgsqlCommand("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off", monthsConn))
                await plan.ExecuteNonQueryAsync(pct);

            var ready = Channel.CreateBounded<MonthlyJson>(1);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(pct);
            var monthsReader = Task.Run(async () =>
            {
                try
                {
                    foreach (var range in ranges)
                        await ready.Writer.WriteAsync(await SubscriberQueries.ReadMonthlyJsonAsync(monthsConn, null, range, stop.Token), stop.Token);
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
                    await foreach (var p in SubscriberQueries.StreamProfileRowsAsync(profilesConn, null, ranges[part++], pct))
                    {
                        // The row's own updated_at, so the hash depends on the data alone (a dual
                        // write and a later sync write the same bytes).
                        var updated = p.UpdatedAt is { } u ? new DateTimeOffset(DateTime.SpecifyKind(u, DateTimeKind.Utc)) : now;
                        await w.AddProfileAsync(p, months.For(p.Isdn), updated, encoder, sink, bulk, pct);
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
            mark("read profiles");
            await bulk.CompleteAsync();
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
                .Select(x => x.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException);
            if (first is not null)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }
    }

    /// Keeps the books of one full sync (meta, counts; nothing per subscriber) and writes its
    /// rec and profile hashes and its temporary index chunks.
    sealed class Writer(SyncContext t, bool dryRun, ServerLimits limits, IProgress<SyncProgress>? progress)
    {
        readonly Dictionary<string, List<(string Member, double Score)>> _indexBuffers = new(StringComparer.Ordinal);
        readonly Dictionary<(IndexKind, string), string> _indexKeyNames = [];
        readonly IDatabase _db = t.RedisDb;
        long _keysWritten;
        int _recs, _profiles, _overLimit, _longest;

        public long Total { get; set; }
        public MetaStats Meta { get; } = new();
        public HashSet<string> NewIndexKeys { get; } = new(StringComparer.Ordinal);
        public long KeysWritten => Interlocked.Read(ref _keysWritten);
        public int Recs => _recs;
        public int ProfilesWritten => _profiles;
        public int OverLimit => _overLimit;
        public int LongestValue => _longest;

        // The live index names of a subscriber, built once per distinct value.
        string IndexKey(IndexKind kind, string value)
        {
            if (!_indexKeyNames.TryGetValue((kind, value), out var name))
            {
                RedisKey key = kind switch
                {
                    IndexKind.Service => t.Keys.ServiceIndex(value),
                    IndexKind.Risk => t.Keys.RiskIndex(value),
                    _ => t.Keys.ClusterIndex(value),
                };
                name = key.ToString();
                _indexKeyNames[(kind, value)] = name;
            }
            return name;
        }

        public async ValueTask AddRecAsync(Recommendation r, RecordEncoder encoder, HashEntrySink sink, RedisBulk bulk, CancellationToken ct)
        {
            lock (Meta)
                Meta.Add(r);
            var cluster = r.ClusterGroup?.ToString(CultureInfo.InvariantCulture);
            var score = SyncContext.IndexScore(r);
            await AddToIndexAsync(IndexKey(IndexKind.Service, r.ServiceType), r.Isdn, score, bulk);
            await AddToIndexAsync(IndexKey(IndexKind.Risk, r.BadDebtRisk), r.Isdn, score, bulk);
            if (cluster is not null)
                await AddToIndexAsync(IndexKey(IndexKind.Cluster, cluster), r.Isdn, score, bulk);
            Interlocked.Increment(ref _keysWritten);
            if (!dryRun)
            {
                encoder.WriteRec(r, sink);
                Track(sink.LongestValue);
                RedisKey key = t.Keys.Rec(r.Isdn);
                await bulk.AddAsync(_db.HashSetAsync(key, sink.Take()));
                await bulk.AddAsync(SyncContext.ExpireAsync(_db, key));
            }
            if (++_recs % 1000 == 0)
            {
                progress?.Report(new SyncProgress("writing", _recs, Total));
                ct.ThrowIfCancellationRequested();
            }
        }

        // Not async (a span parameter): the encoding is synchronous, only the send may wait.
        public ValueTask AddProfileAsync(Profile p, ReadOnlySpan<byte> monthlyJson, DateTimeOffset updatedAt, RecordEncoder encoder,
            HashEntrySink sink, RedisBulk bulk, CancellationToken ct)
        {
            var count = Interlocked.Increment(ref _profiles);
            lock (Meta)
            {
                Meta.RevenuePotentialSum += p.RevenuePotential ?? 0;
                Meta.Profiles = count;
            }
            Interlocked.Increment(ref _keysWritten);
            if (count % 1000 == 0)
                ct.ThrowIfCancellationRequested();
            if (dryRun)
                return ValueTask.CompletedTask;
            encoder.WriteProfile(p, monthlyJson, updatedAt, sink);
            Track(sink.LongestValue);
            return WriteHashAsync(bulk, t.Keys.Profile(p.Isdn), sink.Take());
        }

        async ValueTask WriteHashAsync(RedisBulk bulk, RedisKey key, HashEntry[] entries)
        {
            await bulk.AddAsync(_db.HashSetAsync(key, entries));
            await bulk.AddAsync(SyncContext.ExpireAsync(_db, key));
        }

        void Track(int longest)
        {
            if (longest > _longest)
                Interlocked.Exchange(ref _longest, longest);
            if (longest > limits.MaxListpackValue)
                Interlocked.Increment(ref _overLimit);
        }

        async ValueTask AddToIndexAsync(string liveKey, string isdn, double score, RedisBulk bulk)
        {
            NewIndexKeys.Add(liveKey);
            if (!_indexBuffers.TryGetValue(liveKey, out var buf))
                _indexBuffers[liveKey] = buf = new List<(string, double)>(SyncContext.IndexChunk);
            buf.Add((isdn, score));
            if (buf.Count >= SyncContext.IndexChunk)
            {
                await FlushIndexAsync(liveKey, buf, bulk);
                buf.Clear();
            }
        }

        // ZADD/SADD of up to IndexChunk members into the temporary index.
        async ValueTask FlushIndexAsync(string liveKey, List<(string Member, double Score)> buf, RedisBulk bulk)
        {
            if (dryRun || buf.Count == 0)
                return;
            var key = SyncKeys.Temp(liveKey);
            await bulk.AddAsync(SyncKeys.Classify(t.Keys, liveKey, out _) == IndexKind.Service
                ? _db.SortedSetAddAsync(key, [.. buf.Select(e => new SortedSetEntry(e.Member, e.Score))])
                : _db.SetAddAsync(key, [.. buf.Select(e => (RedisValue)e.Member)]));
        }

        public async Task FlushIndexesAsync(RedisBulk bulk)
        {
            foreach (var (k, buf) in _indexBuffers)
            {
                await FlushIndexAsync(k, buf, bulk);
                buf.Clear();
            }
        }
    }
}
