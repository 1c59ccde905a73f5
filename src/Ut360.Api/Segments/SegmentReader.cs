using System.Diagnostics;
using System.Globalization;
using Npgsql;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Domain;
using ZiggyCreatures.Caching.Fusion;

namespace Ut360.Api.Segments;

/// Reads the index keys (ut360:idx:*) with PostgreSQL behind them. An index key that is absent
/// is never taken for an empty segment (Redis does not keep empty sets, so absent means
/// "not there"): the page comes from PostgreSQL and the key is rebuilt in the background.
public sealed class SegmentReader(
    IConnectionMultiplexer redis, NpgsqlDataSource db, RedisCircuit circuit, ApiMetrics metrics, IndexRebuilder rebuilder, NearCache<SegmentReader.Ranked> pages,
    Ut360.Data.Redis.RedisKeys keys)
{
    public const int ScanBatch = 5_000;

    public sealed record Ranked(long Total, List<(string Isdn, double Score)> Items, CacheTiming Timing);
    /// VersionChanged: the cursor's list version is no longer the one being served (a sync
    /// published, or a load committed, since the traversal started); nothing else is set.
    public sealed record SetPage(long Total, List<string> Isdns, SegmentCursor? Next, CacheTiming Timing, bool VersionChanged = false);

    const string LastLoadSql = "SELECT coalesce(max(id), 0) FROM data_loads WHERE outcome = 'succeeded'";

    /// The version of the indexes in Redis: the meta's sync_id (0 when there is no meta). The
    /// publish changes indexes and meta together (one MULTI/EXEC on a standalone server).
    internal static long RedisVersion(RedisValue syncId) => syncId.TryParse(out long v) ? v : 0;

    /// UC2: members by descending priority (ZREVRANGE), with ZCARD, in one pipelined round.
    public async Task<Ranked> RangeAsync(Segment segment, long offset, int limit, CancellationToken ct)
    {
        // A page read from Redis since the last sync is kept near, as records are (NearCache).
        var generation = pages.Generation;
        var pageKey = NearCache<Ranked>.Key(generation, string.Create(CultureInfo.InvariantCulture, $"{segment.Key}\n{offset}\n{limit}"));
        if (pages.Cache?.TryGet<Ranked>(pageKey, token: ct) is { HasValue: true, Value: { } kept })
            return kept with { Timing = new CacheTiming { Outcome = CacheOutcome.Near } };
        var timing = new CacheTiming { Outcome = CacheOutcome.Hit };
        var start = Stopwatch.GetTimestamp();
        var (answered, (count, entries)) = await circuit.TryAsync(static async s =>
        {
            var total = s.Database.SortedSetLengthAsync(s.Key);
            var range = s.Database.SortedSetRangeByRankWithScoresAsync(s.Key, s.Offset, s.Offset + s.Limit - 1, Order.Descending);
            return (await total, await range);
        }, (Database: redis.GetDatabase(), segment.Key, Offset: offset, Limit: limit), ct);
        timing.AddRedis(start);
        if (answered && count > 0)
        {
            var items = new List<(string, double)>(entries.Length);
            foreach (var e in entries)
                items.Add(((string)e.Element!, e.Score));
            var ranked = new Ranked(count, items, timing);
            // A page counts its members against NearCache:Pages.
            pages.Cache?.Set(pageKey, ranked, o => o.Size = Math.Max(1, items.Count), token: CancellationToken.None);
            return ranked;
        }
        timing.Outcome = metrics.NotInRedis(answered);
        if (answered)
            _ = rebuilder.Trigger(segment);

        // Pattern 4, ordered exactly as the sorted set is: by cv × ar (the index score, not the
        // rounded priority_score), ties by ISDN descending as ZREVRANGE orders equal scores.
        var pgStart = Stopwatch.GetTimestamp();
        metrics.PostgresRead();
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT count(*) FROM recommendations WHERE {segment.Where}") { Parameters = { segment.Parameter() } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            SELECT isdn, customer_value_score, advance_readiness_score FROM recommendations WHERE {segment.Where}
            ORDER BY coalesce(customer_value_score * advance_readiness_score, 0) DESC, isdn DESC
            LIMIT @limit OFFSET @offset
            """)
        { Parameters = { segment.Parameter(), new NpgsqlParameter<int>("limit", limit), new NpgsqlParameter<long>("offset", offset) } });
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var pgTotal = reader.GetInt64(0);
        await reader.NextResultAsync(ct);
        var list = new List<(string, double)>(limit);
        while (await reader.ReadAsync(ct))
            list.Add((reader.GetString(0), Priority.IndexScore(reader.IsDBNull(1) ? 0 : reader.GetDecimal(1), reader.IsDBNull(2) ? 0 : reader.GetDecimal(2))));
        timing.AddPostgres(pgStart);
        return new Ranked(pgTotal, list, timing);
    }

    /// UC3/UC4: one page of a set by SSCAN (never SMEMBERS: 180,000 members would stall Redis
    /// for tens of milliseconds), with SCARD. SSCAN's COUNT is a hint, so a batch can hold more
    /// than the page needs; the cursor then records how many of that batch were returned.
    public async Task<SetPage> PageAsync(Segment segment, SegmentCursor cursor, int limit, CancellationToken ct)
    {
        var timing = new CacheTiming { Outcome = CacheOutcome.Hit };
        if (!cursor.FromPostgres)
        {
            var start = Stopwatch.GetTimestamp();
            var (answered, (page, again)) = await circuit.TryAsync(
                static s => s.Reader.ScanPageAsync(s.Segment, s.Cursor, s.Limit), (Reader: this, Segment: segment, Cursor: cursor, Limit: limit), ct);
            timing.AddRedis(start);
            // A first page that straddled a publish is read again, of the new version.
            if (again)
                return await PageAsync(segment, cursor, limit, ct);
            if (page is not null)
                return page with { Timing = timing };
            timing.Outcome = metrics.NotInRedis(answered);
            if (answered)
                _ = rebuilder.Trigger(segment);
            // A Redis cursor cannot continue in PostgreSQL; such a page starts over there.
            cursor = SegmentCursor.Start with { FromPostgres = true };
        }
        else
            timing.Outcome = CacheOutcome.Miss;

        // Keyset paging by ISDN (idx on isdn); the cursor carries the last ISDN returned.
        var pgStart = Stopwatch.GetTimestamp();
        metrics.PostgresRead();
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT count(*) FROM recommendations WHERE {segment.Where}") { Parameters = { segment.Parameter() } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT isdn FROM recommendations WHERE {segment.Where} AND isdn > @after ORDER BY isdn LIMIT @limit")
        { Parameters = { segment.Parameter(), new NpgsqlParameter<string>("after", cursor.After ?? ""), new NpgsqlParameter<int>("limit", limit + 1) } });
        batch.BatchCommands.Add(new NpgsqlBatchCommand(LastLoadSql));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var pgTotal = reader.GetInt64(0);
        await reader.NextResultAsync(ct);
        var list = new List<string>(limit + 1);
        while (await reader.ReadAsync(ct))
            list.Add(reader.GetString(0));
        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        var loadVersion = reader.GetInt64(0);
        timing.AddPostgres(pgStart);
        if (!cursor.IsStart && cursor.Version != loadVersion)
            return new SetPage(pgTotal, [], null, timing, VersionChanged: true);
        SegmentCursor? pgNext = null;
        if (list.Count > limit)
        {
            list.RemoveAt(limit);
            pgNext = new SegmentCursor(true, 0, 0, list[^1], loadVersion);
        }
        return new SetPage(pgTotal, list, pgNext, timing);
    }

    /// One page of a set from Redis: null when the set is absent (not an empty segment); Again
    /// when a first page straddled a publish and must be read again.
    async Task<(SetPage? Page, bool Again)> ScanPageAsync(Segment segment, SegmentCursor cursor, int limit)
    {
        var database = redis.GetDatabase();
        // The version before and after the page's reads (one connection, in order): equal,
        // and the page is all of one version.
        var versionBefore = database.HashGetAsync(keys.MetaStats, "sync_id");
        var total = database.SetLengthAsync(segment.Key);
        var count = Math.Max(limit, 100);
        var scan = ScanAsync(database, segment.Key, cursor.RedisCursor, count);
        var card = await total;
        if (card > 0)
        {
            var isdns = new List<string>(limit);
            var at = cursor.RedisCursor;
            var skip = cursor.Skip;
            SegmentCursor? next = null;
            while (true)
            {
                var (following, members) = await scan;
                var taken = 0;
                for (var i = skip; i < members.Length && isdns.Count < limit; i++, taken++)
                    isdns.Add((string)members[i]!);
                if (skip + taken < members.Length)
                {
                    next = new SegmentCursor(false, at, skip + taken, null);
                    break;
                }
                if (following == 0)
                    break;
                if (isdns.Count == limit)
                {
                    next = new SegmentCursor(false, following, 0, null);
                    break;
                }
                at = following;
                skip = 0;
                scan = ScanAsync(database, segment.Key, at, count);
            }
            var version = RedisVersion(await versionBefore);
            var versionAfter = RedisVersion(await database.HashGetAsync(keys.MetaStats, "sync_id"));
            if (!cursor.IsStart && cursor.Version != version || version != versionAfter)
            {
                if (cursor.IsStart && version != versionAfter)
                    return (null, true);
                return (new SetPage(card, [], null, default, VersionChanged: true), false);
            }
            return (new SetPage(card, isdns, next is { } n ? n with { Version = version } : null, default), false);
        }
        return (null, false);
    }

    internal static async Task<(ulong Next, RedisValue[] Members)> ScanAsync(IDatabaseAsync database, RedisKey key, ulong cursor, int count)
    {
        var result = await database.ExecuteAsync("SSCAN", new object[] { key, (RedisValue)cursor, "COUNT", (RedisValue)count });
        var parts = (RedisResult[])result!;
        return ((ulong)parts[0], (RedisValue[])parts[1]!);
    }
}
