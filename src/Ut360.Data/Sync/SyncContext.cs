using System.Globalization;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// The servers and namespace of one sync, and the steps every mode ends with.
sealed class SyncContext(NpgsqlDataSource db, IConnectionMultiplexer redis, RedisKeys keys, int database)
{
    public const int IndexChunk = 1000;    // members per ZADD/SADD/ZREM/SREM
    public static readonly TimeSpan Ttl = RedisKeys.RecordTtl;

    /// Between a full sync's publish and its deletion of departed subscribers: longer than an
    /// API read of a page and its records, and than the API's meta poll (NearCache:PollMs, 1 s),
    /// which clears near caches that missed the announcement.
    public static readonly TimeSpan DepartureGrace = TimeSpan.FromSeconds(2);

    /// Adds the pending set to the recently-deleted one (kept DeletedTtl) and drops it, in one step.
    const string RetireGone = """
        redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        redis.call('DEL', KEYS[1])
        return 1
        """;

    public NpgsqlDataSource Db => db;
    public IConnectionMultiplexer Redis => redis;
    public RedisKeys Keys => keys;
    public IDatabase RedisDb => redis.GetDatabase(database);
    public int DbNumber => database < 0 ? 0 : database;
    public bool IsCluster => RedisState.IsCluster(redis);

    /// Records ISDNs in the pending-deletion set before anything stops pointing at them, so a
    /// kill between here and their deletion leaves them for the next sync.
    public async Task RememberGoneAsync(IReadOnlyCollection<string> gone)
    {
        if (gone.Count == 0)
            return;
        var tasks = new List<Task>();
        foreach (var chunk in gone.Chunk(IndexChunk))
            tasks.Add(RedisDb.SetAddAsync(keys.SyncGone, [.. chunk.Select(i => (RedisValue)i)]));
        await Task.WhenAll(tasks);
    }

    /// Deletes the gone subscribers' keys (no index lists them any more), then moves the pending
    /// set into the recently-deleted one that API write-backs consult. Returns the keys deleted.
    /// With retire, the pending set is retired even when nothing is gone (a killed sync's
    /// leftovers that came back).
    public async Task<long> DeleteGoneAsync(IReadOnlyCollection<string> goneRec, IReadOnlyCollection<string> goneProfile, bool retire = false)
    {
        if (goneRec.Count + goneProfile.Count == 0 && !retire)
            return 0;
        var tasks = new List<Task<bool>>(goneRec.Count + goneProfile.Count);
        foreach (var i in goneRec)
            tasks.Add(RedisDb.KeyDeleteAsync(keys.Rec(i)));
        foreach (var i in goneProfile)
            tasks.Add(RedisDb.KeyDeleteAsync(keys.Profile(i)));
        long deleted = 0;
        foreach (var ok in await Task.WhenAll(tasks))
            deleted += ok ? 1 : 0;
        await RetireGoneAsync();
        return deleted;
    }

    /// Moves the pending-deletion set into the recently-deleted one, once its keys are deleted.
    public Task RetireGoneAsync() =>
        RedisDb.ScriptEvaluateAsync(RetireGone, [keys.SyncGone, keys.SyncDeleted], [(long)RedisKeys.DeletedTtl.TotalMilliseconds]);

    /// Tells API instances to drop their in-process copies.
    public Task AnnounceAsync(long runId) =>
        redis.GetSubscriber().PublishAsync(RedisChannel.Literal(keys.Events), runId.ToString(CultureInfo.InvariantCulture));

    /// Clears the needs_sync marks of the loads whose data this run published (those its
    /// snapshot held). A full sync also drops the change sets of the loads it covered: Redis
    /// holds their data now, so no later incremental sync needs them.
    public async Task FinishLoadsAsync(long[] published, long? coveredUpTo, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        var clear = new NpgsqlBatchCommand("UPDATE data_loads SET needs_sync = false WHERE needs_sync AND id = ANY(@ids)");
        clear.Parameters.AddWithValue("ids", published);
        batch.BatchCommands.Add(clear);
        if (coveredUpTo is { } last)
        {
            var drop = new NpgsqlBatchCommand("DELETE FROM load_changes WHERE load_id <= @last");
            drop.Parameters.AddWithValue("last", last);
            batch.BatchCommands.Add(drop);
        }
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// The record's TTL, sent right behind its HSET and awaited with it in the bulk window.
    /// It was fire-and-forget once (~10% less client CPU: 12.2 against 11.0 CPU-seconds for the
    /// default dataset), on the premise that a lost connection fails the run through the HSETs'
    /// replies. A Cluster master restarted just before a sync disproved it: the HSET landed and
    /// its EXPIRE did not (while the client reconnects, a fire-and-forget command can be lost
    /// with nothing to report it), so the run succeeded with a record that never expires
    /// (RedisRestartTests). Awaited, a lost EXPIRE fails the run and the next one retries.
    /// Measured again for the change (50,000 subscribers, own Redis, three interleaved rounds,
    /// load average ~9): client CPU median 3.97 s awaited against 4.75 s fire-and-forget, so the
    /// earlier saving does not show at this size.
    public static Task<bool> ExpireAsync(IDatabaseAsync db, RedisKey key) => db.KeyExpireAsync(key, Ttl);

    /// The score of a subscriber in its service index (design 2.2 C).
    public static double IndexScore(Records.Recommendation r) =>
        r.CustomerValueScore is { } cv && r.AdvanceReadinessScore is { } ar ? Domain.Priority.IndexScore(cv, ar) : 0d;

    public static Dictionary<string, long> IndexCounts(MetaStats meta)
    {
        var d = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (k, v) in meta.Services) d["service:" + k] = v;
        foreach (var (k, v) in meta.Risks) d["risk:" + k] = v;
        foreach (var (k, v) in meta.Clusters) d["cluster:" + k.ToString(CultureInfo.InvariantCulture)] = v;
        return d;
    }

    public static void CheckEncodings(int overLimit, int longest, ServerLimits limits, List<string> warnings)
    {
        if (overLimit > 0)
            warnings.Add($"{overLimit} hashes have a value over hash-max-listpack-value ({limits.MaxListpackValue} bytes; longest {longest}) and are stored as hashtables: raise it in the Redis config");
        if (limits.MaxListpackEntries < RecordCodec.RecFields.Length || limits.MaxListpackEntries < RecordCodec.ProfileFields.Length)
            warnings.Add($"hash-max-listpack-entries is {limits.MaxListpackEntries}: rec and profile hashes need {RecordCodec.RecFields.Length} to stay listpack-encoded");
    }
}
