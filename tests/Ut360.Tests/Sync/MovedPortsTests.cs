using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Sync;

/// Two checkouts on one host: with UT360_PG_PORT / UT360_REDIS_PORT, every `./ut360` command of a
/// checkout reaches the servers its `services up` started, also later without the variables
/// (remembered in its state dir), and the servers on the default ports are left alone.
public sealed class MovedPortsTests
{
    [Fact]
    public async Task Every_command_of_a_checkout_with_moved_ports_reaches_its_own_servers_and_leaves_the_default_ones_untouched()
    {
        var root = Repo.Root;
        var state = Directory.CreateTempSubdirectory("ut360-ports-");
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(state.FullName, (UnixFileMode)0b111_101_101);  // the postgres user reads it when run as root
        var data = Path.Combine(state.FullName, "data");
        int pgPort = FreePort(), redisPort = FreePort();
        var before = await DefaultServersAsync();
        try
        {
            // Only `services up` is told the ports; every later command finds them remembered.
            var up = await RunAsync(root, state.FullName, ["services", "up"], ("UT360_PG_PORT", pgPort), ("UT360_REDIS_PORT", redisPort));
            Assert.True(up.Code == 0, up.Output);
            foreach (var args in new[] { ["db", "migrate"], ["generate", "--subscribers", "200", "--out", data], ["load", data], new[] { "sync" } })
            {
                var r = await RunAsync(root, state.FullName, args);
                Assert.True(r.Code == 0, $"ut360 {string.Join(' ', args)}:\n{r.Output}");
            }
            var psql = await RunAsync(root, state.FullName, ["psql", "-Atc", "SELECT current_setting('port') || ' ' || count(*) FROM recommendations"]);
            Assert.Equal($"{pgPort} 200", psql.Output.Trim());
            var cli = await RunAsync(root, state.FullName, ["redis-cli", "HGET", "ut360:meta:stats", "total_subscribers"]);
            Assert.Equal("200", cli.Output.Trim());

            await using (var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redisPort}"))
                Assert.Equal("200", (string?)await redis.GetDatabase().HashGetAsync("ut360:meta:stats", "total_subscribers"));
        }
        finally
        {
            await RunAsync(root, state.FullName, ["services", "down"]);
        }
        Assert.Equal(before, await DefaultServersAsync());
        Assert.False(await AnswersAsync(pgPort));
        Assert.False(await AnswersAsync(redisPort));
        state.Delete(recursive: true);
    }

    // What a load or sync into the default servers would change: the newest load and sync run
    // of the default database, the meta's sync id in the default Redis.
    static async Task<string> DefaultServersAsync()
    {
        var cs = new NpgsqlConnectionStringBuilder($"Host=127.0.0.1;Port={Ut360Settings.DefaultPostgresPort};Username=postgres;Database=ut360") { Pooling = false };
        string pg;
        try
        {
            await using var conn = new NpgsqlConnection(cs.ConnectionString);
            await conn.OpenAsync();
            await using var exists = new NpgsqlCommand("SELECT to_regclass('data_loads') IS NOT NULL", conn);
            await using var newest = new NpgsqlCommand("SELECT coalesce(max(id), 0)::text FROM data_loads", conn);
            pg = await exists.ExecuteScalarAsync() is true ? (string)(await newest.ExecuteScalarAsync())! : "no schema";
        }
        catch (PostgresException e) when (e.SqlState == "3D000")
        {
            pg = "no database";
        }
        catch (NpgsqlException e) when (e.InnerException is System.Net.Sockets.SocketException)
        {
            // No server on the default port (a machine whose only checkout moved its ports):
            // nothing there can be touched, and "no server" must stay so.
            pg = "no server";
        }
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{Ut360Settings.DefaultRedisPort}");
            var meta = await redis.GetDatabase().HashGetAsync("ut360:meta:stats", ["sync_id", "total_subscribers"]);
            return $"loads {pg}, meta {meta[0]}/{meta[1]}";
        }
        catch (RedisConnectionException)
        {
            return $"loads {pg}, no Redis server";
        }
    }

    static async Task<(int Code, string Output)> RunAsync(string root, string state, string[] args, params (string Name, int Value)[] env)
    {
        var info = new ProcessStartInfo(Path.Combine(root, "ut360")) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        foreach (var name in new[] { "ConnectionStrings__Postgres", "ConnectionStrings__Redis", "UT360_PG_PORT", "UT360_REDIS_PORT", "UT360_SHARE_SERVERS" })
            info.Environment.Remove(name);
        info.Environment["UT360_STATE_DIR"] = state;
        info.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in env)
            info.Environment[name] = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    static async Task<bool> AnswersAsync(int port)
    {
        using var c = new TcpClient();
        try
        {
            await c.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
