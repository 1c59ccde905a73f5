using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// What a full sync changes against the live indexes (who is gone, added, moved), worked out by
/// PostgreSQL in the sync's own snapshot, so the sync holds no per-subscriber collection: at
/// 2.1 million subscribers the old members, the ISDNs written and the new memberships held as
/// .NET sets and dictionaries took about a gigabyte (bench/results/scale.md). The members Redis
/// lists (live indexes, the pending-deletion set, and on a sweep every rec/profile key) are
/// streamed by binary COPY into a temporary table of the snapshot's transaction; the gone
/// subscribers go into a second one, which the sync reads twice (pending set, then deletion).
/// Both tables disappear with the transaction.
sealed class MembershipDiff(NpgsqlConnection conn)
{
    // One row per (ISDN, where Redis lists it): kind is service, risk or cluster (value: which
    // index), pending (the pending-deletion set), rec or profile (a key found by the sweep).
    // work_mem as the loader's: at 64 MB the two hash aggregates of the members spilled to disk
    // (5 and 9 batches at 2.1 million subscribers) and the diff took 12.1× its 1× time for 10×
    // the data; at 256 MB 10.7× (bench/results/scale.md).
    const string Create = """
        CREATE TEMP TABLE sync_redis_members (isdn text COLLATE "C" NOT NULL, kind text NOT NULL, value text) ON COMMIT DROP;
        SET LOCAL work_mem = '256MB'
        """;

    // Gone: listed (an index, the pending set, or a key the sweep found) and absent from the
    // table its key mirrors: a rec is gone when no recommendation has its ISDN, a profile when no
    // profile row has it (the rules the in-memory sets followed). Hash joins, not a probe per
    // ISDN: at 214,504 subscribers the correlated NOT EXISTS took 8.8 s, these joins 1.5 s.
    const string Gone = """
        ANALYZE sync_redis_members;
        CREATE TEMP TABLE sync_gone ON COMMIT DROP AS
        WITH listed AS (
            SELECT isdn, bool_or(kind <> 'profile') AS rec_key, bool_or(kind <> 'rec') AS profile_key,
                   bool_or(kind IN ('service', 'risk', 'cluster')) AS listed
              FROM sync_redis_members GROUP BY isdn)
        SELECT l.isdn, l.rec_key AND r.isdn IS NULL AS rec, l.profile_key AND p.isdn IS NULL AS profile, l.listed
          FROM listed l
          LEFT JOIN recommendations r ON r.isdn = l.isdn
          LEFT JOIN subscriber_360_profiles p ON p.isdn = l.isdn
         WHERE (l.rec_key AND r.isdn IS NULL) OR (l.profile_key AND p.isdn IS NULL)
        """;

    const string Counts = """
        WITH old AS (
            SELECT isdn, max(value) FILTER (WHERE kind = 'service') AS service, max(value) FILTER (WHERE kind = 'risk') AS risk,
                   max(value) FILTER (WHERE kind = 'cluster') AS cluster
              FROM sync_redis_members WHERE kind IN ('service', 'risk', 'cluster') GROUP BY isdn),
        now AS (
            SELECT count(*) FILTER (WHERE old.isdn IS NULL) AS added,
                   count(*) FILTER (WHERE old.isdn IS NOT NULL
                       AND (old.service, old.risk, old.cluster) IS DISTINCT FROM (r.service_type::text, r.bad_debt_risk::text, r.cluster_group::text)) AS moves
              FROM recommendations r LEFT JOIN old ON old.isdn = r.isdn)
        SELECT now.added, now.moves,
               (SELECT count(*) FROM sync_gone WHERE rec AND listed),
               (SELECT count(*) FILTER (WHERE rec) FROM sync_gone),
               (SELECT count(*) FILTER (WHERE profile) FROM sync_gone),
               (SELECT count(*) FROM sync_gone)
          FROM now
        """;

    NpgsqlBinaryImporter? _import;

    public static async Task<MembershipDiff> BeginAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using (var cmd = new NpgsqlCommand(Create, conn))
            await cmd.ExecuteNonQueryAsync(ct);
        var diff = new MembershipDiff(conn);
        diff._import = await conn.BeginBinaryImportAsync("COPY sync_redis_members (isdn, kind, value) FROM STDIN (FORMAT BINARY)", ct);
        return diff;
    }

    public async ValueTask AddAsync(string isdn, string kind, string? value, CancellationToken ct)
    {
        await _import!.StartRowAsync(ct);
        await _import.WriteAsync(isdn, NpgsqlDbType.Text, ct);
        await _import.WriteAsync(kind, NpgsqlDbType.Text, ct);
        if (value is null)
            await _import.WriteNullAsync(ct);
        else
            await _import.WriteAsync(value, NpgsqlDbType.Text, ct);
    }

    /// Every member of the live indexes (ZSCAN/SSCAN, pages of 5,000), streamed into the table.
    public async Task AddIndexMembersAsync(IDatabase db, RedisKeys keys, IEnumerable<string> liveIndexKeys,
        IProgress<SyncProgress>? progress, CancellationToken ct)
    {
        long seen = 0;
        foreach (var k in liveIndexKeys.Order(StringComparer.Ordinal))
        {
            var kind = SyncKeys.Classify(keys, k, out var value);
            if (kind == IndexKind.Unknown)
                continue;
            var name = kind switch { IndexKind.Service => "service", IndexKind.Risk => "risk", _ => "cluster" };
            IAsyncEnumerable<RedisValue> members = kind == IndexKind.Service
                ? Elements(db.SortedSetScanAsync(k, pageSize: 5000))
                : db.SetScanAsync(k, pageSize: 5000);
            await foreach (var m in members.WithCancellation(ct))
            {
                await AddAsync(m.ToString(), name, value, ct);
                if (++seen % 50_000 == 0)
                    progress?.Report(new SyncProgress("reading indexes", seen, 0));
            }
        }
    }

    static async IAsyncEnumerable<RedisValue> Elements(IAsyncEnumerable<SortedSetEntry> entries)
    {
        await foreach (var e in entries)
            yield return e.Element;
    }

    /// Ends the COPY and works out who is gone; returns the counts.
    public async Task<DiffCounts> CompleteAsync(CancellationToken ct)
    {
        await _import!.CompleteAsync(ct);
        await _import.DisposeAsync();
        _import = null;
        await using (var gone = new NpgsqlCommand(Gone, conn))
            await gone.ExecuteNonQueryAsync(ct);
        await using var cmd = new NpgsqlCommand(Counts, conn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return new DiffCounts(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5));
    }

    /// The gone subscribers, streamed: ISDN, whether its rec key goes, whether its profile key goes.
    public async IAsyncEnumerable<(string Isdn, bool Rec, bool Profile)> GoneAsync(
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT isdn, rec, profile FROM sync_gone", conn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            yield return (r.GetString(0), r.GetBoolean(1), r.GetBoolean(2));
    }
}

/// Added: recommendations no live index listed; Moves: listed with another service, risk or
/// cluster; Removed: listed and without a recommendation now; GoneRec / GoneProfile: keys to
/// delete; Gone: distinct subscribers with a key to delete.
readonly record struct DiffCounts(long Added, long Moves, long Removed, long GoneRec, long GoneProfile, long Gone);
