using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Ut360.Data;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Bench;

/// bench/scale.sh on a shared host: what it cannot run is refused before it starts anything, and a
/// refused run stops no server and drops no database that it did not make itself (it once sent
/// SHUTDOWN NOSAVE to whatever held its port and dropped ut360_scale_N on the way out).
public sealed class ScaleBenchRefusalTests
{
    [Fact]
    public async Task A_size_too_small_for_the_uc6_lists_is_refused_with_the_smallest_that_works()
    {
        var (code, output) = await RunAsync([], "1000");

        Assert.Equal(2, code);
        Assert.Contains("1000 subscribers is too few", output);
        Assert.Contains("at least 120000", output);
    }

    [Fact]
    public async Task A_taken_port_is_refused_at_once_and_whatever_holds_it_keeps_running()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var (code, output) = await RunAsync([("SCALE_REDIS_PORT", port.ToString())], "214504");

        Assert.Equal(1, code);
        Assert.Contains($"port {port} is taken", output);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        using var accepted = await holder.AcceptTcpClientAsync();
        Assert.True(accepted.Connected);
    }

    [Fact]
    public async Task An_existing_scale_database_is_refused_and_kept()
    {
        const int size = 130_007;
        var admin = new NpgsqlConnectionStringBuilder(Ut360Settings.Postgres()) { Database = "postgres", Pooling = false }.ConnectionString;
        await using var conn = new NpgsqlConnection(admin);
        await conn.OpenAsync();
        await Exec(conn, $"DROP DATABASE IF EXISTS ut360_scale_{size}");
        await Exec(conn, $"CREATE DATABASE ut360_scale_{size}");
        try
        {
            var free = new TcpListener(IPAddress.Loopback, 0);
            free.Start();
            var port = ((IPEndPoint)free.LocalEndpoint).Port;
            free.Stop();

            var (code, output) = await RunAsync([("SCALE_REDIS_PORT", port.ToString())], size.ToString());

            Assert.Equal(1, code);
            Assert.Contains($"database ut360_scale_{size} exists", output);
            await using var exists = new NpgsqlCommand($"SELECT count(*) FROM pg_database WHERE datname = 'ut360_scale_{size}'", conn);
            Assert.Equal(1L, (long)(await exists.ExecuteScalarAsync())!);
        }
        finally
        {
            await Exec(conn, $"DROP DATABASE IF EXISTS ut360_scale_{size}");
        }
    }

    static async Task Exec(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    // The bench against this run's PostgreSQL; a refusal is immediate, so a minute is a hang.
    static async Task<(int Code, string Output)> RunAsync((string Name, string Value)[] env, params string[] sizes)
    {
        var root = Repo.Root;
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        info.ArgumentList.Add(Path.Combine(root, "bench", "scale.sh"));
        foreach (var s in sizes)
            info.ArgumentList.Add(s);
        info.Environment.Remove("ConnectionStrings__Postgres");
        info.Environment.Remove("ConnectionStrings__Redis");
        info.Environment["UT360_PG_PORT"] = new NpgsqlConnectionStringBuilder(Ut360Settings.Postgres()).Port.ToString();
        foreach (var (name, value) in env)
            info.Environment[name] = value;
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            await p.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("bench/scale.sh did not refuse within a minute");
        }
        return (p.ExitCode, await stdout + await stderr);
    }
}
