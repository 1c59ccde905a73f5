using StackExchange.Redis;

namespace Ut360.Data.Redis;

/// The key layout of the design's section 2.2. Names are part of the contract: operators type
/// them into redis-cli. Tests pass another namespace ("t1a2b:ut360") to isolate themselves on a
/// shared server; production always uses the default "ut360".
public sealed class RedisKeys(string ns = RedisKeys.DefaultNamespace)
{
    public const string DefaultNamespace = "ut360";
    public static readonly RedisKeys Default = new();

    public string Namespace { get; } = ns;

    public RedisKey Rec(string isdn) => $"{Namespace}:rec:{isdn}";
    public RedisKey Profile(string isdn) => $"{Namespace}:profile:{isdn}";
    public RedisKey ServiceIndex(string serviceType) => $"{Namespace}:idx:service:{serviceType}";
    public RedisKey RiskIndex(string riskLevel) => $"{Namespace}:idx:risk:{riskLevel}";
    public RedisKey ClusterIndex(int clusterId) => $"{Namespace}:idx:cluster:{clusterId}";
    public RedisKey ClusterIndex(string clusterId) => $"{Namespace}:idx:cluster:{clusterId}";
    public RedisKey MetaStats => $"{Namespace}:meta:stats";
    public RedisKey Bulk(string hash) => $"{Namespace}:bulk:{hash}";

    /// Bytes of structure G written in one clock hour (yyyyMMddHH, UTC), against the API's
    /// Api:BulkCacheBudgetBytes.
    public RedisKey BulkBudget(DateTime utcHour) =>
        $"{Namespace}:bulk:budget:{utcHour.ToString("yyyyMMddHH", System.Globalization.CultureInfo.InvariantCulture)}";

    /// The sync's own: ISDNs whose keys a sync is about to delete (during a sync, or after one
    /// was killed, for the next to finish).
    public RedisKey SyncGone => $"{Namespace}:sync:gone";

    /// Set by a sync before it writes its first record and cleared when it ends well: a run that
    /// finds it knows an earlier one stopped mid-write (StraySweep).
    public RedisKey SyncWriting => $"{Namespace}:sync:writing";

    /// The Redis server run_id(s) the last full sync wrote to (SyncWatchdog): another value means
    /// the server restarted since, and may have lost or reloaded older data.
    public RedisKey SyncServer => $"{Namespace}:sync:server";

    /// ISDNs a sync deleted within DeletedTtl: a cache-aside write-back skips them, so a miss that
    /// read a row just before a sync deleted it cannot bring the subscriber back (CacheFill). The
    /// hash tag puts it in SyncGone's Cluster slot, so one script moves the one into the other.
    public RedisKey SyncDeleted => $"{Namespace}:sync:deleted:{{{Namespace}:sync:gone}}";

    /// Pub/sub channel (not a key) on which every finished sync and dual write is announced,
    /// so API instances drop their in-process copies at once.
    public string Events => $"{Namespace}:events";

    public static readonly TimeSpan RecordTtl = TimeSpan.FromDays(7);
    public static readonly TimeSpan BulkTtl = TimeSpan.FromHours(1);
    /// Far longer than any miss's PostgreSQL read (the API gives one 10 s at most).
    public static readonly TimeSpan DeletedTtl = TimeSpan.FromHours(1);
}
