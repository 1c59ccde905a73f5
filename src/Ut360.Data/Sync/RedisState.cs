using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// Which service, risk and cluster index a subscriber belongs to (or null for none).
public readonly record struct Membership(string? Service, string? Risk, string? Cluster)
{
    public IEnumerable<string> IndexKeys(RedisKeys keys)
    {
        if (Service is not null)
            yield return keys.ServiceIndex(Service).ToString();
        if (Risk is not null)
            yield return keys.RiskIndex(Risk).ToString();
        if (Cluster is not null)
            yield return keys.ClusterIndex(Cluster).ToString();
    }
}

/// What the sync finds in Redis before it writes: the live index keys, leftovers of a sync that
/// was killed (temporary keys, the pending-deletion set).
sealed class RedisState
{
    public HashSet<string> LiveIndexKeys { get; } = new(StringComparer.Ordinal);
    public List<string> LeftoverTempKeys { get; } = [];
    public HashSet<string> PendingGone { get; } = new(StringComparer.Ordinal);

    public static IEnumerable<IServer> Masters(IConnectionMultiplexer redis) =>
        redis.GetServers().Where(s => s.IsConnected && !s.IsReplica);

    /// Throws when the client is not connected to every server it knows (other than known
    /// replicas): Masters would silently leave that one out, so a full sync would miss its keys
    /// and the watchdog would take a partial list of run_ids for a changed server. Right after a
    /// Redis restart the client reconnects within a few seconds; the caller tries again later.
    /// <exception cref="RedisConnectionException">names the endpoints not connected.</exception>
    public static void RequireAllConnected(IConnectionMultiplexer redis)
    {
        var down = redis.GetServers().Where(s => !s.IsConnected && !s.IsReplica).Select(s => s.EndPoint.ToString()).ToList();
        if (redis.GetServers().Length == 0 || down.Count > 0)
            throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None,
                $"Redis {(down.Count > 0 ? string.Join(", ", down) : "(no server)")} is not connected: a full sync needs every master", null, CommandStatus.Unknown);
    }

    public static bool IsCluster(IConnectionMultiplexer redis) =>
        redis.GetServers().Any(s => s.ServerType == ServerType.Cluster);

    /// The key names (live indexes, leftovers) and the pending-deletion set, without the index
    /// members (a full sync streams those into PostgreSQL: MembershipDiff).
    public static async Task<RedisState> ReadKeysAsync(IConnectionMultiplexer redis, RedisKeys keys, int database, CancellationToken ct)
    {
        var state = new RedisState();
        var ns = keys.Namespace;
        string live = ns + ":idx:", temp = "{" + ns + ":idx:";
        // One SCAN per master finds both the live indexes (cluster ids are open-ended) and the
        // temporary keys a killed sync may have left; the exact prefix test below keeps other
        // namespaces (whose names may end in ours) out.
        foreach (var server in Masters(redis))
        {
            await foreach (var key in server.KeysAsync(database, "*" + Glob(ns) + ":idx:*", pageSize: 5000).WithCancellation(ct))
            {
                var k = key.ToString();
                if (k.StartsWith(live, StringComparison.Ordinal))
                    state.LiveIndexKeys.Add(k);
                else if (k.StartsWith(temp, StringComparison.Ordinal) && k.EndsWith(SyncKeys.TempSuffix, StringComparison.Ordinal))
                    state.LeftoverTempKeys.Add(k);
            }
        }

        var db = redis.GetDatabase(database);
        await foreach (var e in db.SetScanAsync(keys.SyncGone, pageSize: 5000).WithCancellation(ct))
            state.PendingGone.Add(e.ToString());
        return state;
    }

    public static string Glob(string s)
    {
        var b = new System.Text.StringBuilder(s.Length);
        foreach (var c in s)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
                b.Append('\\');
            b.Append(c);
        }
        return b.ToString();
    }
}

enum IndexKind { Unknown, Service, Risk, Cluster }

/// The sync's own keys beyond the design's layout. A temporary index is named
/// "{live name}:next": the hash tag is the whole live name, so in Redis Cluster the temporary
/// key lives in the live key's slot and RENAME can swap it in.
static class SyncKeys
{
    public const string TempSuffix = "}:next";

    public static RedisKey Temp(string liveKey) => "{" + liveKey + TempSuffix;

    public static IndexKind Classify(RedisKeys keys, string key, out string value)
    {
        var prefix = keys.Namespace + ":idx:";
        value = "";
        if (!key.StartsWith(prefix, StringComparison.Ordinal))
            return IndexKind.Unknown;
        var rest = key.AsSpan(prefix.Length);
        var colon = rest.IndexOf(':');
        if (colon < 0)
            return IndexKind.Unknown;
        value = rest[(colon + 1)..].ToString();
        return rest[..colon] switch
        {
            "service" => IndexKind.Service,
            "risk" => IndexKind.Risk,
            "cluster" => IndexKind.Cluster,
            _ => IndexKind.Unknown,
        };
    }
}
