using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

/// The sync against servers configured the way operators get them wrong: a small maxmemory,
/// lazy freeing off; and the records of runs whose process died.
public sealed class SyncServerTests
{
    [Fact]
    public async Task A_sync_whose_writes_redis_evicts_fails_with_the_numbers_and_warns_when_lazy_freeing_is_off()
    {
        await using var db = await TestDatabase.CreateAsync();
        // 3,000 subscribers are ~10 MB in Redis: a 4 MB server must evict what the sync writes.
        await using var server = await RedisServer.StartAsync("--maxmemory", "4mb", "--maxmemory-policy", "volatile-lru",
            "--lazyfree-lazy-server-del", "no");
        await using var redis = await TestRedis.CreateAsync(server.ConnectionString + ",allowAdmin=true");
        await FillAsync(db, 3000);

        var result = await FullAsync(db, redis);

        Assert.Equal(SyncOutcome.Failed, result.Outcome);
        Assert.Contains("evicted", result.Message, StringComparison.Ordinal);
        Assert.Contains("maxmemory", result.Message, StringComparison.Ordinal);
        Assert.Contains(result.Warnings, w => w.StartsWith("lazyfree-lazy-server-del is off", StringComparison.Ordinal));
        // Not published: no meta claims subscribers that are not there.
        Assert.False(await redis.Db.KeyExistsAsync(redis.Keys.MetaStats));
        var run = await SyncRuns.HistoryAsync(db.DataSource, 1, default).FirstAsync();
        Assert.Equal(SyncOutcome.Failed, run.Outcome);
        Assert.Contains("evicted", run.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_command_says_in_one_line_when_redis_is_unreachable_or_out_of_memory()
    {
        await using var db = await TestDatabase.CreateAsync();
        await FillAsync(db, 3000);

        // Nothing listens on this port.
        int closed;
        using (var l = new TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            closed = ((IPEndPoint)l.LocalEndpoint).Port;
        }
        var (code, output) = await CliProcess.RunAsync(CliProcess.Info(db.ConnectionString, $"127.0.0.1:{closed},connectTimeout=1000", null, "sync"));
        Assert.Equal(1, code);
        Assert.Contains($"cannot reach Redis at 127.0.0.1:{closed}", output.ReplaceLineEndings(" "), StringComparison.Ordinal);
        NoStackTrace(output);
        // Recorded before Redis was reached: a failed run naming the address (issue 16, item 8).
        var unreachable = await SyncRuns.HistoryAsync(db.DataSource, 1, default).FirstAsync();
        Assert.Equal(SyncOutcome.Failed, unreachable.Outcome);
        Assert.Contains($"cannot reach Redis at 127.0.0.1:{closed}", unreachable.Message, StringComparison.Ordinal);
        Assert.NotNull(unreachable.FinishedAt);
        Assert.Contains($"run {unreachable.Id} recorded as failed", output.ReplaceLineEndings(" "), StringComparison.Ordinal);

        // 1 MB and only keys with a TTL evictable: the sync's writes are refused (OOM) or evicted.
        await using var server = await RedisServer.StartAsync("--maxmemory", "1mb", "--maxmemory-policy", "volatile-lru");
        (code, output) = await CliProcess.RunAsync(CliProcess.Info(db.ConnectionString, server.ConnectionString, null, "sync"));
        Assert.Equal(1, code);
        Assert.True(output.Contains("out of memory", StringComparison.Ordinal) || output.Contains("evicted", StringComparison.Ordinal), output);
        NoStackTrace(output);
        var run = await SyncRuns.HistoryAsync(db.DataSource, 1, default).FirstAsync();
        Assert.Equal(SyncOutcome.Failed, run.Outcome);
    }

    static void NoStackTrace(string output)
    {
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(?m)^\s+at \S+\(", output);
    }

    [Fact]
    public async Task A_sync_on_the_project_configuration_neither_evicts_nor_warns_about_lazy_freeing()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var server = await RedisServer.StartAsync("--lazyfree-lazy-server-del", "yes", "--lazyfree-lazy-user-del", "yes");
        await using var redis = await TestRedis.CreateAsync(server.ConnectionString + ",allowAdmin=true");
        await FillAsync(db, 300);

        var result = await FullAsync(db, redis);

        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.DoesNotContain(result.Warnings, w => w.Contains("lazyfree", StringComparison.Ordinal));
    }

    [Fact]
    public async Task History_marks_sync_runs_and_loads_whose_process_is_gone_and_leaves_those_whose_holder_lives()
    {
        await using var db = await TestDatabase.CreateAsync();
        var gone = await ScalarAsync<long>(db, "INSERT INTO sync_runs (kind, trigger, namespace) VALUES ('full', 'cli', 'gone:ut360') RETURNING id");
        var live = await ScalarAsync<long>(db, "INSERT INTO sync_runs (kind, trigger, namespace) VALUES ('full', 'cli', 'live:ut360') RETURNING id");
        var load = await ScalarAsync<long>(db, "INSERT INTO data_loads (data_version, mode, source_dir, source_format) VALUES ('v', 'upsert', 'x', 'csv') RETURNING id");

        // A live sync of 'live:ut360' holds its lock; nobody holds the other's or the load's.
        await using (var holder = await SyncLock.TryAcquireAsync(db.DataSource, "live:ut360", default))
        {
            Assert.NotNull(holder);
            Assert.Equal((1, 1), await SyncRuns.MarkAbandonedAsync(db.DataSource, default));
        }
        Assert.Equal(SyncOutcome.Interrupted, await ScalarAsync<string>(db, $"SELECT outcome FROM sync_runs WHERE id = {gone}"));
        Assert.Equal("running", await ScalarAsync<string>(db, $"SELECT outcome FROM sync_runs WHERE id = {live}"));
        Assert.Equal("failed", await ScalarAsync<string>(db, $"SELECT outcome FROM data_loads WHERE id = {load}"));
        Assert.True(await ScalarAsync<bool>(db, $"SELECT message LIKE 'interrupted%' AND finished_at IS NOT NULL FROM data_loads WHERE id = {load}"));

        // A load in progress (its lock held) keeps its row.
        var running = await ScalarAsync<long>(db, "INSERT INTO data_loads (data_version, mode, source_dir, source_format) VALUES ('w', 'upsert', 'x', 'csv') RETURNING id");
        await using var loader = await db.DataSource.OpenConnectionAsync();
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(@k)", loader))
        {
            take.Parameters.AddWithValue("k", 0x75743336304CL);  // DataLoader's lock
            await take.ExecuteNonQueryAsync();
        }
        Assert.Equal((1, 0), await SyncRuns.MarkAbandonedAsync(db.DataSource, default));  // the live sync's holder is gone now
        Assert.Equal("running", await ScalarAsync<string>(db, $"SELECT outcome FROM data_loads WHERE id = {running}"));
    }
}

/// A redis-server of the test's own on a free loopback port, stopped on dispose. With a
/// PrivateCa it listens with TLS only (its certificate signed by that CA).
sealed class RedisServer : IAsyncDisposable
{
    Process _process;
    readonly string[] _args;
    readonly PrivateCa? _tls;
    readonly string _probe;

    RedisServer(Process process, int port, string[] args, PrivateCa? tls, string probe)
    {
        _process = process;
        Port = port;
        _args = args;
        _tls = tls;
        _probe = probe;
    }

    public int Port { get; }
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static Task<RedisServer> StartAsync(params string[] args) => StartAsync(args, null, "");

    /// probe: what a client adds to the connection string to get in (ssl, user, password).
    public static async Task<RedisServer> StartAsync(string[] args, PrivateCa? tls, string probe)
    {
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((IPEndPoint)l.LocalEndpoint).Port;
        }
        return new RedisServer(await LaunchAsync(port, args, tls, probe), port, args, tls, probe);
    }

    /// Kills the server with SIGKILL and starts it again on the same port with the same
    /// arguments: a new run_id, and whatever its --dir holds (an RDB from SAVE) or nothing.
    public async Task RestartAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = await LaunchAsync(Port, _args, _tls, _probe);
    }

    static async Task<Process> LaunchAsync(int port, string[] args, PrivateCa? tls, string probe)
    {
        var p = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var info = new ProcessStartInfo(ServerBinary())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string[] listen = tls is null
            ? ["--port", p]
            : ["--port", "0", "--tls-port", p, "--tls-cert-file", tls.ServerCertificate, "--tls-key-file", tls.ServerKey,
               "--tls-ca-cert-file", tls.CaCertificate, "--tls-auth-clients", "no"];
        foreach (var a in (string[])[.. listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--hash-max-listpack-value", "4096", .. args])
            info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var options = ConfigurationOptions.Parse($"127.0.0.1:{p},connectTimeout=1000,abortConnect=false{probe}");
        if (tls is not null)
            options.TrustIssuer(tls.CaCertificate);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(process.HasExited, $"redis-server exited:\n{output}");
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"redis-server never answered:\n{output}");
            await using (var check = await ConnectionMultiplexer.ConnectAsync(options))
                if (check.IsConnected)
                    return process;
            await Task.Delay(50);
        }
    }

    // UT360_TEST_REDIS_SERVER, else whichever engine is installed (a machine may have only one).
    static string ServerBinary()
    {
        if (Environment.GetEnvironmentVariable("UT360_TEST_REDIS_SERVER") is { Length: > 0 } chosen)
            return chosen;
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':');
        foreach (var name in new[] { "redis-server", "valkey-server" })
            foreach (var dir in path)
                if (File.Exists(Path.Combine(dir, name)))
                    return Path.Combine(dir, name);
        throw new InvalidOperationException("neither redis-server nor valkey-server is on PATH (./ut360 test installs one)");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}

/// A certificate authority of the test's own (openssl) and a server certificate it signed for
/// 127.0.0.1 and localhost (serverAuth and clientAuth: cluster nodes present it to each other on the TLS bus).
sealed class PrivateCa
{
    public required string CaCertificate { get; init; }
    public required string ServerCertificate { get; init; }
    public required string ServerKey { get; init; }

    public static async Task<PrivateCa> CreateAsync(string dir)
    {
        await File.WriteAllTextAsync(Path.Combine(dir, "server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n");
        await OpenSslAsync(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=UT360 test CA");
        await OpenSslAsync(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
        await OpenSslAsync(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "server.ext");
        return new PrivateCa
        {
            CaCertificate = Path.Combine(dir, "ca.crt"),
            ServerCertificate = Path.Combine(dir, "server.crt"),
            ServerKey = Path.Combine(dir, "server.key"),
        };
    }

    static async Task OpenSslAsync(string dir, params string[] args)
    {
        var info = new ProcessStartInfo("openssl") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"openssl {string.Join(' ', args)}: {await err}");
    }
}
