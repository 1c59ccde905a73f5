using System.Reflection;
using System.Text.RegularExpressions;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using Xunit.Sdk;

namespace Ut360.Tests.Sync;

/// The Redis Cluster the environment names (UT360_TEST_REDIS_CLUSTER, which ./ut360 test and CI
/// always set); a cluster case is skipped only when it is absent.
public sealed class ClusterDataAttribute : DataAttribute
{
    public const string Variable = "UT360_TEST_REDIS_CLUSTER";

    public ClusterDataAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Variable)))
            Skip = $"{Variable} is not set (./ut360 test sets it)";
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [["cluster"]];
}

static partial class SyncTestKit
{
    public static async Task<TestRedis> RedisAsync(string target) => target switch
    {
        "cluster" => await TestRedis.CreateAsync(Environment.GetEnvironmentVariable(ClusterDataAttribute.Variable) + ",allowAdmin=true"),
        _ => await TestRedis.CreateAsync(),
    };

    public static SyncEngine Engine(TestDatabase db, TestRedis redis) => new(db.DataSource, redis.Connection, redis.Keys);

    public static Task<SyncResult> FullAsync(TestDatabase db, TestRedis redis, IProgress<SyncProgress>? progress = null, CancellationToken ct = default) =>
        Engine(db, redis).RunAsync(new SyncRequest { Trigger = "test" }, progress, ct);

    /// bench/fill.sql with n subscribers: the same synthetic shape the benchmark uses.
    public static async Task FillAsync(TestDatabase db, int n)
    {
        var sql = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Sync", "fill.sql"));
        sql = string.Join('\n', sql.Split('\n').Where(l => !l.StartsWith('\\')));
        sql = PsqlVariable().Replace(sql, n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // The rows predate anything a test then does, so "changed since" windows are unambiguous.
        sql += """
            ;UPDATE recommendations SET updated_at = updated_at - interval '1 hour';
            UPDATE subscriber_360_profiles SET updated_at = updated_at - interval '1 hour';
            UPDATE data_loads SET started_at = started_at - interval '1 hour', finished_at = finished_at - interval '1 hour';
            """;
        await using var cmd = db.DataSource.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    /// Equal dumps, or a message naming the first key that differs.
    public static void AssertSameDump(SortedDictionary<string, string> expected, SortedDictionary<string, string> actual)
    {
        Assert.Equal(expected.Keys.Where(k => !actual.ContainsKey(k)).Take(5).ToList(), []);
        Assert.Equal(actual.Keys.Where(k => !expected.ContainsKey(k)).Take(5).ToList(), []);
        foreach (var (k, v) in expected)
            Assert.True(v == actual[k], $"{k}:\n expected {v}\n actual   {actual[k]}");
    }

    [GeneratedRegex(@"(?<![:\w]):n\b")]
    private static partial Regex PsqlVariable();

    public static async Task<int> ExecAsync(TestDatabase db, string sql)
    {
        await using var cmd = db.DataSource.CreateCommand(sql);
        return await cmd.ExecuteNonQueryAsync();
    }

    public static async Task<T> ScalarAsync<T>(TestDatabase db, string sql)
    {
        await using var cmd = db.DataSource.CreateCommand(sql);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static async Task<Dictionary<string, long>> CountsAsync(TestDatabase db, string column)
    {
        var d = new Dictionary<string, long>();
        await using var cmd = db.DataSource.CreateCommand($"SELECT {column}::text, count(*) FROM recommendations WHERE {column} IS NOT NULL GROUP BY 1");
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
            d[r.GetString(0)] = r.GetInt64(1);
        return d;
    }

    /// Deletes subscribers from all three tables, as a snapshot load would.
    public static Task<int> DeleteAsync(TestDatabase db, string isdnCondition) => ExecAsync(db, $"""
        DELETE FROM subscriber_monthly_arpu WHERE isdn IN (SELECT isdn FROM recommendations WHERE {isdnCondition});
        DELETE FROM subscriber_360_profiles WHERE isdn IN (SELECT isdn FROM recommendations WHERE {isdnCondition});
        DELETE FROM recommendations WHERE {isdnCondition};
        """);

    public static async Task<List<string>> IsdnsAsync(TestDatabase db, string condition)
    {
        var list = new List<string>();
        await using var cmd = db.DataSource.CreateCommand($"SELECT isdn FROM recommendations WHERE {condition} ORDER BY id");
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
            list.Add(r.GetString(0));
        return list;
    }

    /// Every key of the namespace with its type, TTL presence and content, namespace stripped,
    /// so two namespaces can be compared. Meta fields that name the run, and the sync's record of
    /// whom it deleted and of the server it wrote to (SyncDeleted, SyncServer: not data), are left out.
    public static async Task<SortedDictionary<string, string>> DumpAsync(TestRedis redis)
    {
        var db = redis.Db;
        var dump = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var ns = redis.Keys.Namespace;
        foreach (var server in redis.Connection.GetServers().Where(s => !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(pattern: "*" + ns + ":*", pageSize: 1000))
            {
                var k = key.ToString();
                if (key == redis.Keys.SyncDeleted || key == redis.Keys.SyncServer)
                    continue;
                var type = await db.KeyTypeAsync(key);
                var ttl = await db.KeyTimeToLiveAsync(key) is null ? "persist" : "ttl";
                string content = type switch
                {
                    RedisType.Hash => string.Join('|', (await db.HashGetAllAsync(key))
                        .Where(e => e.Name != "last_updated" && e.Name != "sync_id" && e.Name != "sync_kind" && e.Name != "sync_duration_ms")
                        .OrderBy(e => (string)e.Name!, StringComparer.Ordinal).Select(e => $"{e.Name}={e.Value}")),
                    RedisType.SortedSet => string.Join('|', (await db.SortedSetRangeByRankWithScoresAsync(key))
                        .OrderBy(e => (string)e.Element!, StringComparer.Ordinal).Select(e => $"{e.Element}={e.Score}")),
                    RedisType.Set => string.Join('|', (await db.SetMembersAsync(key)).Select(v => (string)v!).Order(StringComparer.Ordinal)),
                    _ => "?",
                };
                dump[k.Replace(ns, "NS", StringComparison.Ordinal)] = $"{type} {ttl} {content}";
            }
        }
        return dump;
    }

    public static async Task<List<string>> KeysAsync(TestRedis redis, string pattern)
    {
        var list = new List<string>();
        foreach (var server in redis.Connection.GetServers().Where(s => !s.IsReplica))
            await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 1000))
                list.Add(key.ToString());
        return list;
    }
}
