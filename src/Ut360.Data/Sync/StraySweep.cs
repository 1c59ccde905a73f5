using System.Globalization;
using StackExchange.Redis;

namespace Ut360.Data.Sync;

/// Keeps a killed run from leaving records that no later sync knows to delete.
///
/// A full sync learns whom to delete from the live indexes and the pending-deletion set. A run
/// killed while it wrote may have written rec and profile hashes of subscribers that no index
/// lists (its new indexes were never published), and PostgreSQL may have lost them before the
/// next run. So every run that writes records first sets the writing mark
/// (RedisKeys.SyncWriting), awaited before its first write, and clears it when it ends well. A
/// full sync that finds a mark left by another run sweeps the namespace: every rec/profile key
/// that its own snapshot did not write is deleted with the subscribers gone from the indexes.
/// The result is what a sync into an empty namespace writes. The sweep is a SCAN of each master
/// (cost measured in docs/redis.md), paid only after a run that did not finish.
static class StraySweep
{
    /// Sets the mark for a full sync; true when a previous run left one (it did not end well).
    public static async Task<bool> MarkFullAsync(SyncContext t, long runId)
    {
        var previous = await t.RedisDb.StringSetAndGetAsync(t.Keys.SyncWriting, Value(runId));
        return !previous.IsNull;
    }

    /// Sets the mark for an incremental run unless one is there: a dead run's mark stays for the
    /// next full sync, which alone can sweep.
    public static Task MarkIncrementalAsync(SyncContext t, long runId) =>
        t.RedisDb.StringSetAsync(t.Keys.SyncWriting, Value(runId), when: When.NotExists);

    /// Clears the mark a full sync set (after its sweep, nothing of an earlier run is left).
    public static Task ClearFullAsync(SyncContext t) => t.RedisDb.KeyDeleteAsync(t.Keys.SyncWriting);

    /// Clears the mark only if this incremental run set it.
    public static Task ClearIncrementalAsync(SyncContext t, long runId) =>
        t.RedisDb.ScriptEvaluateAsync(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            [t.Keys.SyncWriting], [Value(runId)]);

    /// The ISDN of every rec and profile key in the namespace (IsRec: a rec key, else a profile
    /// key). The sync keeps those its snapshot did not write (MembershipDiff).
    public static async IAsyncEnumerable<(string Isdn, bool IsRec)> ScanAsync(
        SyncContext t, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        string rec = t.Keys.Namespace + ":rec:", profile = t.Keys.Namespace + ":profile:";
        // One SCAN per master for both kinds ("rec:" and "profile:" are the namespace's only keys
        // starting with r or p); the exact prefix test keeps other namespaces out.
        var pattern = RedisState.Glob(t.Keys.Namespace) + ":[rp]*";
        foreach (var server in RedisState.Masters(t.Redis))
        {
            await foreach (var key in server.KeysAsync(t.DbNumber, pattern, pageSize: 5000).WithCancellation(ct))
            {
                var k = key.ToString();
                if (k.StartsWith(rec, StringComparison.Ordinal))
                    yield return (k[rec.Length..], true);
                else if (k.StartsWith(profile, StringComparison.Ordinal))
                    yield return (k[profile.Length..], false);
            }
        }
    }

    static RedisValue Value(long runId) => runId.ToString(CultureInfo.InvariantCulture);
}
