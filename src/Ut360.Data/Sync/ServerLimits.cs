using System.Globalization;
using StackExchange.Redis;

namespace Ut360.Data.Sync;

/// The server settings that decide whether rec and profile hashes stay listpack-encoded (a
/// listpack hash costs a fraction of a hashtable one). Read from every master; the smallest wins.
sealed record ServerLimits(int MaxListpackValue, int MaxListpackEntries, string? EvictionPolicy)
{
    public static async Task<ServerLimits> ReadAsync(IConnectionMultiplexer redis, List<string> warnings)
    {
        int value = int.MaxValue, entries = int.MaxValue;
        string? policy = null;
        foreach (var server in RedisState.Masters(redis))
        {
            try
            {
                var config = await server.ConfigGetAsync("*");
                // Without lazy freeing, the publish step's RENAMEs over live indexes free the old
                // sets inside the command: ~100 ms with Redis blocked at the default dataset's
                // sizes, against 74 µs with it (docs/redis.md).
                foreach (var (k, v) in config)
                    if (k is "lazyfree-lazy-server-del" or "lazyfree-lazy-user-del" && v == "no")
                        warnings.Add($"{k} is off on {server.EndPoint}: every sync's publish blocks Redis while it frees the old indexes; set '{k} yes' (docs/operations.md)");
                foreach (var (k, v) in config)
                {
                    if (k is "hash-max-listpack-value" or "hash-max-ziplist-value")
                        value = Math.Min(value, int.Parse(v, CultureInfo.InvariantCulture));
                    else if (k is "hash-max-listpack-entries" or "hash-max-ziplist-entries")
                        entries = Math.Min(entries, int.Parse(v, CultureInfo.InvariantCulture));
                    else if (k == "maxmemory-policy")
                        policy = v;
                }
            }
            catch (Exception ex) when (ex is RedisException or RedisCommandException)
            {
                warnings.Add($"could not read the configuration of {server.EndPoint} ({ex.Message}); listpack limits not checked");
                return new ServerLimits(int.MaxValue, int.MaxValue, null);
            }
        }
        if (value == int.MaxValue)
            value = 64;  // Redis's default, when the server did not say
        if (entries == int.MaxValue)
            entries = 128;
        if (policy is "allkeys-lru" or "allkeys-lfu" or "allkeys-random")
            warnings.Add($"maxmemory-policy is {policy}: under memory pressure Redis may evict index and meta keys; use volatile-lru (docs/redis.md)");
        return new ServerLimits(value, entries, policy);
    }

    /// used_memory summed over the masters (a cluster's dataset is spread over them).
    public static async Task<long?> UsedMemoryAsync(IConnectionMultiplexer redis)
    {
        long total = 0;
        try
        {
            foreach (var server in RedisState.Masters(redis))
            {
                var info = await server.InfoAsync("memory");
                foreach (var group in info)
                    foreach (var pair in group)
                        if (pair.Key == "used_memory")
                            total += long.Parse(pair.Value, CultureInfo.InvariantCulture);
            }
        }
        catch (RedisException)
        {
            return null;
        }
        return total;
    }

    /// Keys evicted so far (INFO stats evicted_keys) summed over the masters, with the memory
    /// figures that explain them; null when the servers do not say.
    public static async Task<Eviction?> EvictionAsync(IConnectionMultiplexer redis)
    {
        long evicted = 0, used = 0, max = 0;
        try
        {
            foreach (var server in RedisState.Masters(redis))
            {
                var info = await server.InfoAsync();
                foreach (var group in info)
                    foreach (var pair in group)
                    {
                        if (pair.Key == "evicted_keys")
                            evicted += long.Parse(pair.Value, CultureInfo.InvariantCulture);
                        else if (pair.Key == "used_memory")
                            used += long.Parse(pair.Value, CultureInfo.InvariantCulture);
                        else if (pair.Key == "maxmemory")
                            max += long.Parse(pair.Value, CultureInfo.InvariantCulture);
                    }
            }
        }
        catch (RedisException)
        {
            return null;
        }
        return new Eviction(evicted, used, max);
    }
}

/// evicted_keys, used_memory and maxmemory (bytes, summed over the masters).
sealed record Eviction(long EvictedKeys, long UsedMemory, long MaxMemory)
{
    /// Null when nothing was evicted since `before`; else why the run cannot be trusted.
    public string? Since(Eviction? before, long written)
    {
        if (before is null || EvictedKeys <= before.EvictedKeys)
            return null;
        var n = EvictedKeys - before.EvictedKeys;
        return $"Redis evicted {n:N0} keys while the sync wrote {written:N0} (used_memory {UsedMemory / 1048576.0:0.0} MiB of maxmemory "
            + $"{MaxMemory / 1048576.0:0.0} MiB): what Redis holds is incomplete; raise maxmemory (docs/operations.md)";
    }
}
