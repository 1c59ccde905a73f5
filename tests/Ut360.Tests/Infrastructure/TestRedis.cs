using StackExchange.Redis;
using Ut360.Data;
using Ut360.Data.Redis;

namespace Ut360.Tests.Infrastructure;

/// The Redis server the environment names, with a key namespace of this test's own
/// ("t{id}:ut360") so tests never see each other's keys. Deletes its keys on dispose.
public sealed class TestRedis : IAsyncDisposable
{
    public ConnectionMultiplexer Connection { get; }
    public RedisKeys Keys { get; }
    public string ConnectionString { get; }

    TestRedis(ConnectionMultiplexer connection, string connectionString, RedisKeys keys)
    {
        Connection = connection;
        ConnectionString = connectionString;
        Keys = keys;
    }

    /// caCertificatePath: the private CA a TLS server's certificate is signed by (as
    /// Redis:CaCertificatePath configures it for the API and the CLI).
    public static async Task<TestRedis> CreateAsync(string? connectionString = null, string? caCertificatePath = null)
    {
        connectionString ??= Ut360Settings.Redis() + ",allowAdmin=true";
        var options = ConfigurationOptions.Parse(connectionString);
        if (caCertificatePath is not null)
            options.TrustIssuer(caCertificatePath);
        var mux = await ConnectionMultiplexer.ConnectAsync(options);
        var keys = new RedisKeys($"t{Guid.NewGuid().ToString("N")[..10]}:ut360");
        return new TestRedis(mux, connectionString, keys);
    }

    public IDatabase Db => Connection.GetDatabase();

    public async ValueTask DisposeAsync()
    {
        foreach (var server in Connection.GetServers())
        {
            // A private server a fault test killed has nothing left to clean.
            // (Killed just now, the connection may not know it yet: the scan then fails.)
            if (server.IsReplica || !server.IsConnected)
                continue;
            var batch = new List<RedisKey>();
            try
            {
                await foreach (var key in server.KeysAsync(pattern: "*" + Keys.Namespace + ":*", pageSize: 1000))
                    batch.Add(key);
            }
            catch (RedisConnectionException)
            {
                continue;
            }
            foreach (var key in batch)
                await Db.KeyDeleteAsync(key);
        }
        await Connection.DisposeAsync();
    }
}
