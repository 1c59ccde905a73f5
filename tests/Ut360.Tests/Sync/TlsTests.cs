extern alias api;

using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Api;
using Ut360.Tests.Infrastructure;
using Ut360.Tests.Load;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

/// Redis as a managed service runs it: TLS only, a certificate from a private CA, an ACL user
/// with a password (the default user off). Trust is configuration (Redis:CaCertificatePath).
public sealed class TlsTests : IAsyncLifetime
{
    const string Acl = ",ssl=true,user=ut360,password=s3cret-Pass-0123";
    DirectoryInfo _dir = null!;
    PrivateCa _ca = null!;
    RedisServer _server = null!;

    string ConnectionString => _server.ConnectionString + Acl;

    public async Task InitializeAsync()
    {
        _dir = Directory.CreateTempSubdirectory("ut360-tls-");
        _ca = await PrivateCa.CreateAsync(_dir.FullName);
        _server = await RedisServer.StartAsync(
            ["--user", "default", "off", "--user", "ut360", "on", ">s3cret-Pass-0123", "~*", "&*", "+@all"], _ca, Acl);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _dir.Delete(recursive: true);
    }

    [Fact]
    public async Task Load_with_dual_write_sync_and_the_api_work_over_tls_with_a_private_ca_and_an_acl_user()
    {
        // Without the CA the server's certificate is not trusted; without the password the ACL refuses.
        await using (var untrusted = await ConnectionMultiplexer.ConnectAsync(ConnectionString + ",abortConnect=false,connectTimeout=1500"))
            Assert.False(untrusted.IsConnected);

        await using var db = await TestDatabase.CreateAsync();
        var data = UpstreamFixture.Create(60).WriteTo(Path.Combine(_dir.FullName, "data"), "csv");
        var load = await CliAsync(db, "load", data, "--dual-write");
        Assert.True(load.Code == 0, load.Output);
        Assert.Contains("dual write (sync run", load.Output, StringComparison.Ordinal);

        await using var redis = await TestRedis.CreateAsync(ConnectionString + ",allowAdmin=true", _ca.CaCertificate);
        Assert.Equal("60", (string?)await redis.Db.HashGetAsync("ut360:meta:stats", "total_subscribers"));
        Assert.Equal(SyncKind.DualWrite, (string?)await redis.Db.HashGetAsync("ut360:meta:stats", "sync_kind"));

        var sync = await CliAsync(db, "sync");
        Assert.True(sync.Code == 0, sync.Output);
        Assert.Equal(SyncKind.Full, (string?)await redis.Db.HashGetAsync("ut360:meta:stats", "sync_kind"));
        var isdn = UpstreamFixture.Isdn(7);
        Assert.Equal(isdn, (string?)await redis.Db.HashGetAsync("ut360:rec:" + isdn, "isdn"));

        // The API, configured the same way, reads the subscriber from this server.
        await using var apiFactory = new TlsApi(ConnectionString + ",allowAdmin=true", _ca.CaCertificate);
        await ((IAsyncLifetime)apiFactory).InitializeAsync();
        Assert.True(apiFactory.Services.GetRequiredService<IConnectionMultiplexer>().IsConnected);
        var someone = (await IsdnsAsync(apiFactory.Db, "id = 5"))[0];
        var json = await apiFactory.GetJsonAsync($"/api/v1/recommendations/{Paths.Escape(someone)}");
        Assert.Equal(someone, json.GetProperty("isdn").GetString());
        Assert.True(await apiFactory.Redis.Db.KeyExistsAsync(apiFactory.Redis.Keys.Rec(someone)));
        await ((IAsyncLifetime)apiFactory).DisposeAsync();
    }

    [Fact]
    public async Task A_sync_writes_the_designs_layout_to_a_cluster_over_tls_with_a_private_ca_and_an_acl_user()
    {
        // Three masters, TLS only (clients and the cluster bus), the same ACL user on each.
        var nodes = new List<RedisServer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var config = Path.Combine(_dir.FullName, $"nodes-{i}.conf");
                nodes.Add(await RedisServer.StartAsync(
                    ["--user", "default", "off", "--user", "ut360", "on", ">s3cret-Pass-0123", "~*", "&*", "+@all",
                     "--cluster-enabled", "yes", "--cluster-config-file", config, "--tls-cluster", "yes",
                     "--cluster-port", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture)], _ca, Acl));
            }
            await JoinClusterAsync(nodes);
            var seeds = string.Join(",", nodes.Select(n => n.ConnectionString));

            await using var db = await TestDatabase.CreateAsync();
            var data = UpstreamFixture.Create(60).WriteTo(Path.Combine(_dir.FullName, "cluster-data"), "csv");
            var load = await CliOnAsync(seeds + Acl, db, "load", data);
            Assert.True(load.Code == 0, load.Output);
            var sync = await CliOnAsync(seeds + Acl, db, "sync");
            Assert.True(sync.Code == 0, sync.Output);

            var options = ConfigurationOptions.Parse(seeds + Acl);
            options.TrustIssuer(_ca.CaCertificate);
            await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
            var redis = mux.GetDatabase();
            Assert.Equal("60", (string?)await redis.HashGetAsync("ut360:meta:stats", "total_subscribers"));
            // Every subscriber's hashes landed, on whichever master owns its slot.
            for (var i = 0; i < 60; i++)
            {
                var isdn = UpstreamFixture.Isdn(i);
                Assert.Equal(isdn, (string?)await redis.HashGetAsync("ut360:rec:" + isdn, "isdn"));
                Assert.True(await redis.KeyExistsAsync("ut360:profile:" + isdn));
            }
            var owners = mux.GetServers().Count(s => !s.IsReplica && s.DatabaseSize() > 0);
            Assert.True(owners >= 2, $"records on {owners} master(s) only");
        }
        finally
        {
            foreach (var node in nodes)
                await node.DisposeAsync();
        }
    }

    static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    /// Slots split in three, the nodes introduced to the first over the TLS bus.
    Task JoinClusterAsync(List<RedisServer> nodes) => OwnCluster.JoinAsync(nodes, node =>
    {
        var options = ConfigurationOptions.Parse(node.ConnectionString + Acl + ",allowAdmin=true");
        options.TrustIssuer(_ca.CaCertificate);
        return options;
    });

    sealed class TlsApi(string connectionString, string ca) : ApiFactory
    {
        protected override string? RedisConnectionString => connectionString;
        protected override string? RedisCaCertificatePath => ca;

        protected override async Task SeedAsync()
        {
            await FillAsync(Db, 50);
            var options = ConfigurationOptions.Parse(connectionString);
            options.TrustIssuer(ca);
            await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
            var result = await new SyncEngine(Db.DataSource, mux, Redis.Keys).RunAsync(new SyncRequest { Trigger = "test" }, null, default);
            Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        }
    }

    Task<(int Code, string Output)> CliAsync(TestDatabase db, params string[] args) => CliOnAsync(ConnectionString, db, args);

    Task<(int Code, string Output)> CliOnAsync(string redis, TestDatabase db, params string[] args) =>
        CliProcess.RunAsync(CliProcess.Info(db.ConnectionString, redis, new Dictionary<string, string> { ["Redis__CaCertificatePath"] = _ca.CaCertificate }, args));
}
