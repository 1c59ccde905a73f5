using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Records;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// An incremental sync (`ut360 sync --changed-since`, and a load's dual write): pushes the
/// subscribers that loads recorded as changed or removed (table load_changes, written in each
/// load's transaction), from a given load on, widened to every load still marked needs_sync.
/// A load that replaced every subscriber (LoadChanges.Everything) is pushed by a full sync instead
/// (SyncEngine picks it).
/// In one PostgreSQL snapshot (SyncSnapshot), chunk by chunk of ISDNs:
///  1. read their rows (= ANY, index probes) and their current index memberships in Redis
///     (HMGET of the three index fields of each rec hash);
///  2. write the rec and profile hashes that exist, with their TTL (RedisBulk);
///  3. record the ones gone from PostgreSQL in the pending-deletion set, move every subscriber
///     out of the indexes it left and into its new ones (standalone: one MULTI/EXEC per chunk),
///     delete the gone ones' keys and retire the pending set (as the full sync does);
/// then the meta, recounted in PostgreSQL in the same snapshot. ISDNs left in the pending set by
/// a killed sync are handled as changes too. Nothing but the change set is read or written.
sealed class IncrementalSync(SyncContext context)
{
    readonly SyncContext _t = context;

    const int Chunk = 2000;
    static readonly RedisValue[] IndexFields = ["service_type", "bad_debt_risk", "cluster_group"];

    int _recs, _profiles, _added, _removed, _moves, _overLimit, _longest;
    long _deleted, _wouldDelete;

    public async Task<SyncResult> RunAsync(SyncRequest request, long runId, ChangesFrom from, Stopwatch clock,
        IProgress<SyncProgress>? progress, CancellationToken ct)
    {
        var warnings = new List<string>();
        var timings = new List<(string, TimeSpan)>();
        void Mark(string phase) => timings.Add((phase, clock.Elapsed));
        var limits = await ServerLimits.ReadAsync(_t.Redis, warnings);
        var evictedBefore = await ServerLimits.EvictionAsync(_t.Redis);

        progress?.Report(new SyncProgress("reading Redis", 0, 0));
        var state = await RedisState.ReadKeysAsync(_t.Redis, _t.Keys, _t.DbNumber, ct);
        if (!request.DryRun)
            await StraySweep.MarkIncrementalAsync(_t, runId);
        Mark("read Redis");

        string dataVersion;
        long[] published;
        MetaStats meta;
        var since = from.Since;
        var snapshot = await SyncSnapshot.BeginAsync(_t.Db, ct);
        await using (snapshot)
        {
            dataVersion = await snapshot.DataVersionAsync(ct);
            published = await snapshot.NeedingSyncAsync(ct);
            // A load whose dual write failed is repaired by the next sync: widen to it.
            var first = published.Length > 0 ? Math.Min(from.LoadId, published.Min()) : from.LoadId;
            if (first < from.LoadId)
                since = await StartedAtAsync(snapshot.Connection, first, ct) ?? since;
            // SyncSession runs a full sync for such a load; one committed since it looked is rare.
            if (await ReplacedEverythingAsync(snapshot.Connection, first, ct) is { } whole)
                throw new InvalidOperationException(
                    $"load {whole} replaced every subscriber while this sync started; run the sync again (it then runs as a full sync)");
            var total = await CountChangesAsync(snapshot.Connection, first, ct) + state.PendingGone.Count;
            var changes = await snapshot.OpenAsync(ct);

            var writer = new ChunkWriter(this, request.DryRun, limits, state);
            var chunk = new List<string>(Chunk);
            long done = 0;
            async Task FlushAsync()
            {
                await writer.ApplyAsync(snapshot.Connection, [.. chunk], ct);
                done += chunk.Count;
                chunk.Clear();
                progress?.Report(new SyncProgress("writing", done, total));
            }
            foreach (var isdn in state.PendingGone)
            {
                chunk.Add(isdn);
                if (chunk.Count == Chunk)
                    await FlushAsync();
            }
            var pending = new HashSet<string>(state.PendingGone, StringComparer.Ordinal);
            await foreach (var isdn in ChangedIsdnsAsync(changes, first, ct))
            {
                if (pending.Contains(isdn))
                    continue;
                chunk.Add(isdn);
                if (chunk.Count == Chunk)
                    await FlushAsync();
            }
            if (chunk.Count > 0)
                await FlushAsync();
            Mark("write changes");
            meta = await MetaStats.FromPostgresAsync(snapshot.Connection, ct);
        }

        var result = new SyncResult
        {
            Outcome = SyncOutcome.DryRun, Kind = request.Kind, DataVersion = dataVersion, ChangedSince = since,
            Subscribers = _recs, Profiles = _profiles, KeysWritten = _recs + _profiles, KeysDeleted = _wouldDelete,
            SubscribersAdded = _added, SubscribersRemoved = _removed, IndexMoves = _moves, Warnings = warnings,
            TotalSubscribersInRedis = meta.Subscribers, IndexCounts = SyncContext.IndexCounts(meta), Timings = timings,
        };
        if (request.DryRun)
            return result with { Message = $"would write {_recs + _profiles} keys, delete {_wouldDelete}, move {_moves} subscribers between indexes" };

        ct.ThrowIfCancellationRequested();
        await WriteMetaAsync(meta.ToHash(dataVersion, DateTimeOffset.UtcNow, runId, request.Kind, clock.Elapsed));
        Mark("meta");
        await _t.AnnounceAsync(runId);

        SyncContext.CheckEncodings(_overLimit, _longest, limits, warnings);
        var used = await ServerLimits.UsedMemoryAsync(_t.Redis);
        result = result with { Outcome = SyncOutcome.Succeeded, KeysDeleted = _deleted, UsedMemory = used };
        // The changes are applied chunk by chunk, so there is no previous version to keep: the
        // run is failed with the numbers, and its loads stay marked needs_sync.
        if ((await ServerLimits.EvictionAsync(_t.Redis))?.Since(evictedBefore, _recs + _profiles) is { } evicted)
            return result with { Outcome = SyncOutcome.Failed, Message = evicted };
        await _t.FinishLoadsAsync(published, null, ct);
        await StraySweep.ClearIncrementalAsync(_t, runId);
        return result;
    }

    static async Task<DateTimeOffset?> StartedAtAsync(NpgsqlConnection conn, long loadId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT started_at FROM data_loads WHERE id = @id", conn);
        cmd.Parameters.AddWithValue("id", loadId);
        return await cmd.ExecuteScalarAsync(ct) is DateTime t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null;
    }

    /// The first load from <paramref name="first"/> on, or still marked needs_sync, whose change
    /// set is every subscriber (the marker row LoadChanges.Everything of a fresh load), or null.
    /// Only a full sync pushes such a load: it also deletes the keys of subscribers wiped before it.
    internal static async Task<long?> ReplacedEverythingAsync(NpgsqlConnection conn, long first, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT min(load_id) FROM load_changes
            WHERE isdn = @everything
              AND load_id >= least(@first, (SELECT min(id) FROM data_loads WHERE needs_sync AND outcome = 'succeeded'))
            """, conn);
        cmd.Parameters.AddWithValue("everything", Loading.LoadChanges.Everything);
        cmd.Parameters.AddWithValue("first", first);
        return await cmd.ExecuteScalarAsync(ct) as long?;
    }

    static async Task<long> CountChangesAsync(NpgsqlConnection conn, long first, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT count(DISTINCT isdn) FROM load_changes WHERE load_id >= @first", conn);
        cmd.Parameters.AddWithValue("first", first);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    static async IAsyncEnumerable<string> ChangedIsdnsAsync(NpgsqlConnection conn, long first, [EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT DISTINCT isdn FROM load_changes WHERE load_id >= @first", conn);
        cmd.Parameters.AddWithValue("first", first);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            yield return r.GetString(0);
    }

    // The meta of structure F, recounted; fields of clusters that are now empty are dropped.
    async Task WriteMetaAsync(HashEntry[] meta)
    {
        var db = _t.RedisDb;
        await db.HashSetAsync(_t.Keys.MetaStats, meta);
        var live = meta.Select(e => e.Name.ToString()).ToHashSet(StringComparer.Ordinal);
        var fields = await db.HashKeysAsync(_t.Keys.MetaStats);
        var extra = fields.Where(f => f.ToString().StartsWith("total_cluster_", StringComparison.Ordinal) && !live.Contains(f.ToString())).ToArray();
        if (extra.Length > 0)
            await db.HashDeleteAsync(_t.Keys.MetaStats, extra);
    }

    sealed class ChunkWriter(IncrementalSync s, bool dryRun, ServerLimits limits, RedisState state)
    {
        readonly SyncContext _t = s._t;
        readonly IDatabase _db = s._t.RedisDb;
        readonly RecordEncoder _encoder = new();
        readonly HashEntrySink _recSink = new(RecordEncoder.RecFieldCount);
        readonly HashEntrySink _profileSink = new(RecordEncoder.ProfileFieldCount);
        readonly DateTimeOffset _now = DateTimeOffset.UtcNow;
        bool _pendingRetired;

        public async Task ApplyAsync(NpgsqlConnection conn, string[] isdns, CancellationToken ct)
        {
            // 1. Rows and current memberships.
            var recs = new Dictionary<string, Recommendation>(StringComparer.Ordinal);
            await foreach (var r in SubscriberQueries.StreamRecommendationsForSyncAsync(conn, isdns, ct))
                recs[r.Isdn] = r;
            var months = await SubscriberQueries.ReadMonthlyJsonAsync(conn, isdns, IsdnRange.All, ct);
            var profiles = new List<Profile>();
            await foreach (var p in SubscriberQueries.StreamProfileRowsAsync(conn, isdns, IsdnRange.All, ct))
                profiles.Add(p);
            var olds = await Task.WhenAll(isdns.Select(i => _db.HashGetAsync(_t.Keys.Rec(i), IndexFields)));

            // 2. Hashes.
            await using (var bulk = new RedisBulk(ct))
            {
                foreach (var r in recs.Values)
                {
                    _encoder.WriteRec(r, _recSink);
                    await WriteAsync(bulk, _t.Keys.Rec(r.Isdn), _recSink);
                    s._recs++;
                }
                foreach (var p in profiles)
                {
                    var updated = p.UpdatedAt is { } u ? new DateTimeOffset(DateTime.SpecifyKind(u, DateTimeKind.Utc)) : _now;
                    _encoder.WriteProfile(p, months.For(p.Isdn), updated, _profileSink);
                    await WriteAsync(bulk, _t.Keys.Profile(p.Isdn), _profileSink);
                    s._profiles++;
                }
                await bulk.CompleteAsync();
            }

            // 3. Indexes and the gone.
            var removals = new Dictionary<string, List<RedisValue>>(StringComparer.Ordinal);
            var adds = new Dictionary<string, List<(RedisValue Member, double Score)>>(StringComparer.Ordinal);
            var withProfile = profiles.Select(p => p.Isdn).ToHashSet(StringComparer.Ordinal);
            List<string> goneRec = [], goneProfile = [];
            for (var i = 0; i < isdns.Length; i++)
            {
                var isdn = isdns[i];
                Membership? now = recs.TryGetValue(isdn, out var r)
                    ? new Membership(r.ServiceType, r.BadDebtRisk, r.ClusterGroup?.ToString(CultureInfo.InvariantCulture))
                    : null;
                var nowKeys = now?.IndexKeys(_t.Keys).ToHashSet(StringComparer.Ordinal) ?? [];
                // Without a rec hash (expired, evicted) the old memberships are unknown: leave
                // every live index but the new ones.
                IEnumerable<string> oldKeys;
                if (Decode(olds[i]) is { } old)
                {
                    oldKeys = old.IndexKeys(_t.Keys);
                    if (now is null)
                        s._removed++;
                    else if (old != now)
                        s._moves++;
                }
                else
                {
                    oldKeys = state.LiveIndexKeys;
                    if (now is not null)
                        s._added++;
                }
                foreach (var k in oldKeys)
                    if (!nowKeys.Contains(k))
                        Add(removals, k, isdn);
                if (r is not null)
                    foreach (var k in nowKeys)
                        Add(adds, k, (isdn, SyncContext.IndexScore(r)));
                else
                    goneRec.Add(isdn);
                if (!withProfile.Contains(isdn))
                    goneProfile.Add(isdn);
            }
            s._wouldDelete += goneRec.Count + goneProfile.Count;
            if (dryRun)
                return;
            var gone = goneRec.Union(goneProfile, StringComparer.Ordinal).ToList();
            await _t.RememberGoneAsync(gone);
            await ApplyIndexesAsync(removals, adds);
            s._deleted += await _t.DeleteGoneAsync(goneRec, goneProfile, retire: !_pendingRetired && state.PendingGone.Count > 0);
            _pendingRetired = true;
        }

        async ValueTask WriteAsync(RedisBulk bulk, RedisKey key, HashEntrySink sink)
        {
            var longest = sink.LongestValue;
            if (longest > s._longest)
                s._longest = longest;
            if (longest > limits.MaxListpackValue)
                s._overLimit++;
            var entries = sink.Take();
            if (dryRun)
                return;
            await bulk.AddAsync(_db.HashSetAsync(key, entries));
            await bulk.AddAsync(SyncContext.ExpireAsync(_db, key));
        }

        // Standalone: one transaction per chunk, so a reader never sees a subscriber in two
        // service indexes or in none while it moves.
        async Task ApplyIndexesAsync(Dictionary<string, List<RedisValue>> removals, Dictionary<string, List<(RedisValue Member, double Score)>> adds)
        {
            if (removals.Count + adds.Count == 0)
                return;
            IDatabaseAsync target = _t.IsCluster ? _db : _db.CreateTransaction();
            var ops = new List<Task>();
            foreach (var (k, members) in removals)
            {
                var service = SyncKeys.Classify(_t.Keys, k, out _) == IndexKind.Service;
                foreach (var chunk in members.Chunk(SyncContext.IndexChunk))
                    ops.Add(service ? target.SortedSetRemoveAsync(k, chunk) : target.SetRemoveAsync(k, chunk));
            }
            foreach (var (k, entries) in adds)
            {
                var service = SyncKeys.Classify(_t.Keys, k, out _) == IndexKind.Service;
                foreach (var chunk in entries.Chunk(SyncContext.IndexChunk))
                    ops.Add(service
                        ? target.SortedSetAddAsync(k, [.. chunk.Select(e => new SortedSetEntry(e.Member, e.Score))])
                        : target.SetAddAsync(k, [.. chunk.Select(e => e.Member)]));
            }
            if (target is ITransaction tx && !await tx.ExecuteAsync())
                throw new InvalidOperationException("the index transaction was discarded");
            await Task.WhenAll(ops);
        }

        static void Add<T>(Dictionary<string, List<T>> d, string key, T value)
        {
            if (!d.TryGetValue(key, out var list))
                d[key] = list = [];
            list.Add(value);
        }

        // The index fields of a rec hash; null when the hash is absent.
        static Membership? Decode(RedisValue[] fields)
        {
            if (fields.All(f => f.IsNull))
                return null;
            var cluster = fields[2].IsNullOrEmpty ? null : fields[2].ToString();
            return new Membership(fields[0].IsNull ? null : fields[0].ToString(), fields[1].IsNull ? null : fields[1].ToString(), cluster);
        }
    }
}
