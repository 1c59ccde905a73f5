using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Redis;

namespace Ut360.Api.Bulk;

/// Writes UC6 answers into structure G within bounds (Api:BulkCacheMaxBytes per answer,
/// Api:BulkCacheBudgetBytes per clock hour across instances), so that a burst of distinct
/// campaign lists cannot push the records out of a volatile-lru Redis.
public sealed class BulkAnswerCache(IConnectionMultiplexer redis, RedisKeys keys, IOptions<ApiOptions> options, ILogger<BulkAnswerCache> logger)
{
    sealed record Usage(DateTime Hour, long Bytes);

    // What the hour's counter said at this instance's last write. The decision uses it rather
    // than waiting for the counter, so the answer's SET is queued at once, ahead of the next
    // request on the connection (a repeat of the list finds it); instances writing at the same
    // moment may overshoot the budget by the answers in flight.
    Usage _usage = new(default, 0);

    /// Queues the write and returns at once (the answer is already in hand); false when the
    /// answer is over the per-answer cap or the hour's budget is spent, and is not kept.
    public bool Keep(RedisKey key, ReadOnlyMemory<byte> json)
    {
        var limits = options.Value;
        if (json.Length > limits.BulkCacheMaxBytes)
            return false;
        var now = DateTime.UtcNow;
        var hour = new DateTime(now.Year, now.Month, now.Day, now.Hour, 0, 0, DateTimeKind.Utc);
        var usage = Volatile.Read(ref _usage);
        if (usage.Hour == hour && usage.Bytes + json.Length > limits.BulkCacheBudgetBytes)
            return false;
        var database = redis.GetDatabase();
        database.StringSet(key, json, RedisKeys.BulkTtl, flags: CommandFlags.FireAndForget);
        _ = CountAsync(database, hour, json.Length);
        return true;
    }

    async Task CountAsync(IDatabase database, DateTime hour, long bytes)
    {
        try
        {
            var counter = keys.BulkBudget(hour);
            var used = await database.StringIncrementAsync(counter, bytes);
            if (used == bytes)
                database.KeyExpire(counter, TimeSpan.FromHours(2), flags: CommandFlags.FireAndForget);
            Volatile.Write(ref _usage, new Usage(hour, used));
        }
        catch (Exception e)
        {
            // Uncounted, the next answers are judged by the last count read.
            logger.LogDebug(e, "Counting a bulk answer against the hour's budget failed");
        }
    }
}
