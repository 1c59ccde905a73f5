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
}
