using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Api.Infrastructure;

/// Writes back what a miss read from PostgreSQL without ever overwriting newer data.
///
/// The race: a request misses, reads the row from PostgreSQL, a sync writes a newer version of
/// the key, then the request writes its (older) row back. We close it with a Lua script that
/// writes only while the key is still absent — the sync's write, whenever it lands, wins; the
/// check and the write are one atomic step on the server. (WATCH/MULTI would need a dedicated
/// connection per fill; HSETNX works field by field and could mix two versions.)
///
/// The same race with a deletion: the row is read, a sync deletes the subscriber, the old row is
/// written back and would stay until its TTL (a full sync learns members from the indexes, so it
/// would never see it). A sync lists whom it deletes in RedisKeys.SyncGone and afterwards in
/// RedisKeys.SyncDeleted for an hour; the script skips those ISDNs.
public static class CacheFill
{
    /// KEYS: SyncGone, SyncDeleted, then the hashes; ARGV: the TTL, then per hash its ISDN, its
    /// field count and its field/value pairs.
    const string FillHashesIfAbsent = """
        local at, written = 2, 0
        for i = 3, #KEYS do
          local isdn, n = ARGV[at], tonumber(ARGV[at + 1])
          if redis.call('EXISTS', KEYS[i]) == 0 and redis.call('SISMEMBER', KEYS[1], isdn) == 0
              and redis.call('SISMEMBER', KEYS[2], isdn) == 0 then
            redis.call('HSET', KEYS[i], unpack(ARGV, at + 2, at + 1 + 2 * n))
            redis.call('PEXPIRE', KEYS[i], ARGV[1])
            written = written + 1
          end
          at = at + 2 + 2 * n
        end
        return written
        """;

    /// One hash, for a Redis Cluster (a script may touch one slot only): KEYS[1] the hash.
    const string FillHashIfAbsent = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], unpack(ARGV, 2))
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return 1
        """;

    /// Hashes per script call: a few milliseconds of server time, so other clients barely wait.
    const int FillChunk = 250;

    /// Write-backs of misses (`Isdn`: whose hash `Key` is): on a standalone server a few hundred
    /// per script call. A Cluster spreads the keys over slots, so there the deleted ISDNs are
    /// looked up first (both sets share a slot) and each hash is its own call; a sync would have
    /// to delete a subscriber in the instant between the two for its old row to come back.
    public static async Task FillHashesIfAbsentAsync(
        IConnectionMultiplexer redis, RedisKeys keys, IReadOnlyList<(string Isdn, RedisKey Key, HashEntry[] Entries)> items, TimeSpan ttl)
    {
        var db = redis.GetDatabase();
        var ttlMs = (long)ttl.TotalMilliseconds;
        var calls = new List<Task>();
        if (redis.GetServers().Any(s => s.ServerType == ServerType.Cluster))
        {
            RedisValue[] isdns = [.. items.Select(i => (RedisValue)i.Isdn)];
            var going = db.SetContainsAsync(keys.SyncGone, isdns);
            var deleted = db.SetContainsAsync(keys.SyncDeleted, isdns);
            var (inGone, inDeleted) = (await going, await deleted);
            for (var i = 0; i < items.Count; i++)
                if (!inGone[i] && !inDeleted[i])
                    calls.Add(db.ScriptEvaluateAsync(FillHashIfAbsent, [items[i].Key], [ttlMs, .. Pairs(items[i].Entries)]));
            await Task.WhenAll(calls);
            return;
        }
        for (var from = 0; from < items.Count; from += FillChunk)
        {
            var count = Math.Min(FillChunk, items.Count - from);
            var scriptKeys = new RedisKey[2 + count];
            (scriptKeys[0], scriptKeys[1]) = (keys.SyncGone, keys.SyncDeleted);
            var args = new List<RedisValue>(1 + count * 30) { ttlMs };
            for (var i = 0; i < count; i++)
            {
                var (isdn, key, entries) = items[from + i];
                scriptKeys[2 + i] = key;
                args.Add(isdn);
                args.Add(entries.Length);
                args.AddRange(Pairs(entries));
            }
            calls.Add(db.ScriptEvaluateAsync(FillHashesIfAbsent, scriptKeys, [.. args]));
        }
        await Task.WhenAll(calls);
    }

    static IEnumerable<RedisValue> Pairs(HashEntry[] entries)
    {
        foreach (var e in entries)
        {
            yield return e.Name;
            yield return e.Value;
        }
    }

    /// Renames a freshly built index into place unless a sync created it meanwhile.
    const string RenameIfAbsent = """
        if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DEL', KEYS[1]) return 0 end
        redis.call('RENAME', KEYS[1], KEYS[2])
        redis.call('PERSIST', KEYS[2])
        return 1
        """;

    public static async Task<bool> RenameIfAbsentAsync(IDatabaseAsync db, RedisKey source, RedisKey target) =>
        (int)await db.ScriptEvaluateAsync(RenameIfAbsent, [source, target]) == 1;

    /// A scratch key in the same cluster slot as `target`: the braces make Redis hash only the
    /// text between them, which is the whole name of the target.
    public static RedisKey ScratchFor(RedisKey target) => $"{{{target}}}:rebuild:{Guid.NewGuid():N}";
}
