using System.Globalization;
using System.Text;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data;
using Ut360.Data.Records;
using Ut360.Data.Redis;
using Ut360.Data.Sync;

// Writes the commands of a full sync into an empty Redis as a RESP file for `redis-cli --pipe`:
// the baseline bench/sync.sh measures the sync against. Same encoder (RecordEncoder), same
// keys, same TTLs, the same PostgreSQL reads as the sync; no temporary keys or swap, since the
// target is empty. Also counts the raw bytes of the dataset (every key, field name, value and
// index member) to compare Redis's used_memory with. Prints machine-readable lines.
//
//   dotnet run --project bench/resp-export -c Release -- FILE     (ConnectionStrings__Postgres)
if (args.Length != 1)
{
    Console.Error.WriteLine("usage: resp-export FILE");
    return 2;
}
await using var db = NpgsqlDataSource.Create(Ut360Settings.Postgres());
var stats = await RespExport.WriteAsync(db, RedisKeys.Default, args[0], CancellationToken.None);
var inv = CultureInfo.InvariantCulture;
Console.WriteLine($"commands {stats.Commands.ToString(inv)}");
Console.WriteLine($"resp_bytes {stats.RespBytes.ToString(inv)}");
Console.WriteLine($"raw_bytes {stats.RawBytes.ToString(inv)}");
Console.WriteLine($"subscribers {stats.Subscribers.ToString(inv)}");
return 0;

static class RespExport
{
    public sealed record Stats(long Commands, long RespBytes, long RawBytes, long Subscribers);

    public static async Task<Stats> WriteAsync(NpgsqlDataSource db, RedisKeys keys, string path, CancellationToken ct)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var w = new RespWriter(file);
        var ttl = ((long)RedisKeys.RecordTtl.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var meta = new MetaStats();
        var indexes = new Dictionary<string, List<(string Member, double Score)>>(StringComparer.Ordinal);
        long raw = 0;

        await using (var conn = await db.OpenConnectionAsync(ct))
        {
            await foreach (var r in SubscriberQueries.StreamRecommendationsForSyncAsync(conn, null, ct))
            {
                var key = keys.Rec(r.Isdn).ToString();
                raw += w.HashSet(key, RecordCodec.EncodeRec(r));
                w.Command("EXPIRE", key, ttl);
                meta.Add(r);
                var score = r.CustomerValueScore is { } cv && r.AdvanceReadinessScore is { } ar ? Ut360.Data.Domain.Priority.IndexScore(cv, ar) : 0d;
                var m = new Membership(r.ServiceType, r.BadDebtRisk, r.ClusterGroup?.ToString(CultureInfo.InvariantCulture));
                foreach (var k in m.IndexKeys(keys))
                {
                    if (!indexes.TryGetValue(k, out var list))
                        indexes[k] = list = [];
                    list.Add((r.Isdn, score));
                }
            }
        }
        await using (var conn = await db.OpenConnectionAsync(ct))
        {
            var now = DateTimeOffset.UtcNow;
            var encoder = new RecordEncoder();
            foreach (var range in await SubscriberQueries.SplitProfilesAsync(conn, 4, ct))
            {
                var months = await SubscriberQueries.ReadMonthlyJsonAsync(conn, null, range, ct);
                await foreach (var p in SubscriberQueries.StreamProfileRowsAsync(conn, null, range, ct))
                {
                    var key = keys.Profile(p.Isdn).ToString();
                    var updated = p.UpdatedAt is { } u ? new DateTimeOffset(DateTime.SpecifyKind(u, DateTimeKind.Utc)) : now;
                    var sink = new EntrySink();
                    encoder.WriteProfile(p, months.For(p.Isdn), updated, sink);
                    raw += w.HashSet(key, [.. sink.Entries]);
                    w.Command("EXPIRE", key, ttl);
                    meta.Profiles++;
                    meta.RevenuePotentialSum += p.RevenuePotential ?? 0;
                }
            }
        }
        foreach (var (key, members) in indexes)
        {
            var zset = key.Contains(":idx:service:", StringComparison.Ordinal);
            raw += Encoding.UTF8.GetByteCount(key);
            foreach (var chunk in members.Chunk(1000))
            {
                var args = new List<string>(chunk.Length * 2 + 2) { zset ? "ZADD" : "SADD", key };
                foreach (var (member, score) in chunk)
                {
                    if (zset)
                    {
                        args.Add(score.ToString("R", CultureInfo.InvariantCulture));
                        raw += 8;  // a double
                    }
                    args.Add(member);
                    raw += Encoding.UTF8.GetByteCount(member);
                }
                w.Command([.. args]);
            }
        }
        raw += w.HashSet(keys.MetaStats.ToString(), meta.ToHash("resp-export", DateTimeOffset.UtcNow, 0, "resp-export", null));
        await w.FlushAsync(ct);
        return new Stats(w.Commands, file.Length, raw, meta.Subscribers);
    }

    sealed class EntrySink : IHashFieldSink
    {
        public List<HashEntry> Entries { get; } = [];

        public void Field(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
            Entries.Add(new HashEntry(Encoding.UTF8.GetString(name), Encoding.UTF8.GetString(value)));
    }

    sealed class RespWriter(Stream stream)
    {
        readonly BufferedStream _out = new(stream, 1 << 20);
        byte[] _buf = new byte[4096];
        public long Commands { get; private set; }

        /// Writes HSET and returns the raw bytes (key, fields, values).
        public long HashSet(string key, HashEntry[] entries)
        {
            var args = new string[2 + entries.Length * 2];
            args[0] = "HSET";
            args[1] = key;
            long raw = Encoding.UTF8.GetByteCount(key);
            for (var i = 0; i < entries.Length; i++)
            {
                string f = entries[i].Name!, v = entries[i].Value!;
                args[2 + i * 2] = f;
                args[3 + i * 2] = v;
                raw += Encoding.UTF8.GetByteCount(f) + Encoding.UTF8.GetByteCount(v);
            }
            Command(args);
            return raw;
        }

        public void Command(params string[] args)
        {
            Commands++;
            Ascii("*" + args.Length.ToString(CultureInfo.InvariantCulture) + "\r\n");
            foreach (var a in args)
            {
                var n = Encoding.UTF8.GetByteCount(a);
                if (n > _buf.Length)
                    _buf = new byte[n * 2];
                Encoding.UTF8.GetBytes(a, _buf);
                Ascii("$" + n.ToString(CultureInfo.InvariantCulture) + "\r\n");
                _out.Write(_buf, 0, n);
                Ascii("\r\n");
            }
        }

        void Ascii(string s)
        {
            Span<byte> b = stackalloc byte[s.Length];
            Encoding.ASCII.GetBytes(s, b);
            _out.Write(b);
        }

        public async Task FlushAsync(CancellationToken ct) => await _out.FlushAsync(ct);
    }
}
