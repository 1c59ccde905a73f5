using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Npgsql;
using Polly;
using Polly.Retry;
using StackExchange.Redis;
using Ut360.Api.Infrastructure;
using Ut360.Data.Domain;

namespace Ut360.Api.Segments;

public enum ExportFormat { Csv, Ndjson }

/// Campaign exports: a whole segment streamed as CSV or NDJSON in constant memory — SSCAN (sets)
/// or ZREVRANGE (the sorted set) pages of 5,000 written straight from Redis's bytes into a
/// 64 KB buffer that is flushed as it fills. From PostgreSQL when Redis is unavailable or the
/// index is absent. SSCAN guarantees every member present for the whole scan is returned; a
/// member can repeat only if the set is rehashed mid-scan. An export never mixes two versions:
/// each page is followed by a read of the meta's sync_id, and when a sync has published since the
/// first page the response is aborted (the client sees an incomplete transfer, not a list that
/// is neither version) and the export can be asked again.
public sealed class ExportWriter(IConnectionMultiplexer redis, NpgsqlDataSource db, RedisCircuit circuit, ApiMetrics metrics, IndexRebuilder rebuilder,
    Ut360.Data.Redis.RedisKeys keys, ILogger<ExportWriter> logger)
{
    const int BufferSize = 64 * 1024;

    // An export reads for minutes under the request path's Redis budget (Redis:TimeoutMs, 250 ms
    // by default). One page answered late on a busy host would otherwise abort a transfer of
    // hundreds of thousands of lines; each page is a read with a cursor, so asking again is safe.
    static readonly ResiliencePipeline PageReads = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<RedisTimeoutException>(),
            MaxRetryAttempts = 3,
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(100),
        })
        .Build();
    static readonly byte[] Base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="u8.ToArray();

    /// Decides where the export comes from before the first byte is sent (a status code can
    /// no longer change after that).
    public async Task<bool> UseRedisAsync(Segment segment)
    {
        var (answered, exists) = await circuit.TryAsync(static s => s.Database.KeyExistsAsync(s.Key), (Database: redis.GetDatabase(), segment.Key), CancellationToken.None);
        if (!answered)
        {
            metrics.Fallback();
            return false;
        }
        if (!exists)
        {
            metrics.Miss();
            _ = rebuilder.Trigger(segment);
        }
        return exists;
    }

    /// The segment's ISDNs in export order, a batch at a time, for exports with every column
    /// (RecommendationCsv reads each batch's records).
    public async IAsyncEnumerable<List<string>> IdBatchesAsync(Segment segment, bool fromRedis, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        if (fromRedis)
        {
            // The records of a batch are read after it, so a batch of a newer index would come
            // with records of the new version under the old ones: RedisPagesAsync aborts first.
            await foreach (var page in RedisPagesAsync(segment, RecommendationCsv.BatchSize, ct))
                yield return [.. page.Select(e => (string)e.Element!)];
            yield break;
        }
        metrics.PostgresRead();
        var sql = segment.Kind == SegmentKind.Service
            ? $"SELECT isdn FROM recommendations WHERE {segment.Where} ORDER BY coalesce(customer_value_score * advance_readiness_score, 0) DESC, isdn DESC"
            : $"SELECT isdn FROM recommendations WHERE {segment.Where} ORDER BY isdn";
        await using var cmd = db.CreateCommand(sql);
        cmd.Parameters.Add(segment.Parameter());
        await foreach (var batch in RecommendationCsv.IsdnBatchesAsync(cmd, ct))
            yield return batch;
    }

    /// The segment's members from Redis in export order, pages of at most <paramref name="size"/>:
    /// a service index by score, highest first (ZRANGE by rank, with scores); a risk or cluster
    /// set in SSCAN order (score 0). Each page is read together with the meta's sync_id, and a
    /// publish since the first page ends the export (SameVersion).
    async IAsyncEnumerable<SortedSetEntry[]> RedisPagesAsync(Segment segment, int size, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var database = redis.GetDatabase();
        var version = SegmentReader.RedisVersion(await database.HashGetAsync(keys.MetaStats, "sync_id"));
        if (segment.Kind == SegmentKind.Service)
        {
            for (long start = 0; ; start += size)
            {
                var (page, after) = await PageReads.ExecuteAsync(async _ =>
                {
                    var read = database.SortedSetRangeByRankWithScoresAsync(segment.Key, start, start + size - 1, Order.Descending);
                    var version = database.HashGetAsync(keys.MetaStats, "sync_id");
                    return (await read, await version);
                }, ct);
                SameVersion(segment, version, after);
                if (page.Length > 0)
                    yield return page;
                if (page.Length < size)
                    yield break;
            }
        }
        ulong cursor = 0;
        do
        {
            var ((next, members), after) = await PageReads.ExecuteAsync(async _ =>
            {
                var scan = SegmentReader.ScanAsync(database, segment.Key, cursor, size);
                var version = database.HashGetAsync(keys.MetaStats, "sync_id");
                return (await scan, await version);
            }, ct);
            SameVersion(segment, version, after);
            if (members.Length > 0)
                yield return [.. members.Select(m => new SortedSetEntry(m, 0))];
            cursor = next;
        } while (cursor != 0);
    }

    // Throwing once the response has started makes the server abort it: the client sees an
    // incomplete transfer (no terminating chunk), never a complete-looking 200.
    void SameVersion(Segment segment, long first, RedisValue after)
    {
        if (SegmentReader.RedisVersion(after) == first)
            return;
        logger.LogWarning("Export of {Segment} aborted: a sync published version {Version} after the export began with {First}",
            segment.Id, SegmentReader.RedisVersion(after), first);
        throw new ExportVersionChangedException(segment.Id);
    }

    public async Task WriteAsync(Segment segment, ExportFormat format, bool fromRedis, Stream body, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize + 1024);
        var used = 0;
        var scored = segment.Kind == SegmentKind.Service;
        try
        {
            // A BOM, so Excel reads the file as UTF-8 (RecommendationCsv writes the same way).
            if (format == ExportFormat.Csv)
                Append(scored ? "\uFEFFisdn,score\n"u8 : "\uFEFFisdn\n"u8);
            if (fromRedis)
                await FromRedisAsync();
            else
                await FromPostgresAsync();
            await body.WriteAsync(buffer.AsMemory(0, used), ct);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        async Task FromRedisAsync()
        {
            await foreach (var page in RedisPagesAsync(segment, SegmentReader.ScanBatch, ct))
                foreach (var e in page)
                {
                    WriteLine(((ReadOnlyMemory<byte>)e.Element).Span, scored ? e.Score : null);
                    if (used >= BufferSize)
                        await FlushAsync();
                }
        }

        async Task FromPostgresAsync()
        {
            metrics.PostgresRead();
            var sql = segment.Kind == SegmentKind.Service
                ? $"SELECT isdn, customer_value_score, advance_readiness_score FROM recommendations WHERE {segment.Where} ORDER BY coalesce(customer_value_score * advance_readiness_score, 0) DESC, isdn DESC"
                : $"SELECT isdn FROM recommendations WHERE {segment.Where} ORDER BY isdn";
            await using var cmd = db.CreateCommand(sql);
            cmd.Parameters.Add(segment.Parameter());
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var isdn = Encoding.UTF8.GetBytes(reader.GetString(0));
                double? score = scored ? Priority.IndexScore(reader.IsDBNull(1) ? 0 : reader.GetDecimal(1), reader.IsDBNull(2) ? 0 : reader.GetDecimal(2)) : null;
                await LineAsync(isdn, score);
            }
        }

        async ValueTask LineAsync(byte[] isdn, double? score)
        {
            WriteLine(isdn, score);
            if (used >= BufferSize)
                await FlushAsync();
        }

        async ValueTask FlushAsync()
        {
            await body.WriteAsync(buffer.AsMemory(0, used), ct);
            used = 0;
        }

        void WriteLine(ReadOnlySpan<byte> isdn, double? score)
        {
            if (isdn.Length > 512 || isdn.IndexOfAnyExcept(Base64Chars) >= 0)
            {
                // Not ISDN-shaped: never written raw, so it cannot break a CSV row or a JSON line.
                WriteEscaped(Encoding.UTF8.GetString(isdn), score);
                return;
            }
            if (format == ExportFormat.Csv)
            {
                // A base64 ISDN can start with +: written '+… so no spreadsheet takes it for a
                // formula (OWASP "CSV injection"); the bulk lookup reads such a cell back as the ISDN.
                if (isdn[0] == (byte)'+')
                    Append("'"u8);
                Append(isdn);
                if (score is { } s)
                {
                    Append(","u8);
                    used += Encoding.ASCII.GetBytes(s.ToString("R", CultureInfo.InvariantCulture), buffer.AsSpan(used));
                }
                Append("\n"u8);
            }
            else
            {
                Append("{\"isdn\":\""u8);
                Append(isdn);
                if (score is { } s)
                {
                    Append("\",\"score\":"u8);
                    used += Encoding.ASCII.GetBytes(s.ToString("R", CultureInfo.InvariantCulture), buffer.AsSpan(used));
                    Append("}\n"u8);
                }
                else
                    Append("\"}\n"u8);
            }
        }

        void WriteEscaped(string isdn, double? score)
        {
            string line;
            if (format == ExportFormat.Csv)
                line = "\"" + RecommendationCsv.Text(isdn).Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
                    + (score is { } s ? "," + s.ToString("R", CultureInfo.InvariantCulture) : "") + "\n";
            else
                line = "{\"isdn\":" + JsonSerializer.Serialize(isdn, ApiJson.Default.String)
                    + (score is { } s ? ",\"score\":" + s.ToString("R", CultureInfo.InvariantCulture) : "") + "}\n";
            var bytes = Encoding.UTF8.GetBytes(line);
            if (used + bytes.Length > buffer.Length)
                return; // cannot happen: lines are at most ~3 KB and the buffer is flushed at 64 KB
            Append(bytes);
        }

        void Append(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(buffer.AsSpan(used));
            used += bytes.Length;
        }
    }
}

/// <summary>
/// A sync published a new version of a segment's index while its export was being read
/// (issue 16: an export never mixes two versions). Before the first byte this is a 409
/// ProblemDetails (<see cref="Infrastructure.ApiExceptionHandler"/>); after it, the server aborts
/// the response, so the client sees an incomplete transfer. Asking again reads the new version.
/// </summary>
public sealed class ExportVersionChangedException(string segment)
    : Exception($"The index of {segment} changed during the export; ask again.")
{
    public string Segment { get; } = segment;
}
