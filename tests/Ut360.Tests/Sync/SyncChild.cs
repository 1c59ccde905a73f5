using System.Diagnostics;
using System.Text;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Sync;

/// A real `ut360` process (the CLI the test project references) against a test's own database
/// and Redis namespace, to be killed with SIGKILL at a point the test chooses.
sealed class SyncChild : IDisposable
{
    readonly Process _process;
    readonly StringBuilder _output = new();

    SyncChild(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output { get { lock (_output) return _output.ToString(); } }

    public static SyncChild Start(TestDatabase db, TestRedis redis, params string[] args) => Start(db, redis.ConnectionString, args);

    /// redis: a connection string of the test's choosing (e.g. a server that never answers).
    public static SyncChild Start(TestDatabase db, string redis, params string[] args)
    {
        return new SyncChild(CliProcess.Start(CliProcess.Info(db.ConnectionString, redis, null, args)));
    }

    /// Polls the condition until it holds, then kills the process with SIGKILL. Fails if the
    /// process exits first or the condition never holds.
    public async Task KillWhenAsync(Func<Task<bool>> reached, TimeSpan? within = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(_process.HasExited, $"the process exited ({(_process.HasExited ? _process.ExitCode : 0)}) before it could be killed:\n{Output}");
            Assert.True(deadline.Elapsed < (within ?? TimeSpan.FromMinutes(2)), $"the process never reached the chosen point:\n{Output}");
            if (await reached())
                break;
            await Task.Delay(20);
        }
        _process.Kill();  // SIGKILL on Unix
        await _process.WaitForExitAsync();
        Assert.Equal(137, _process.ExitCode);
    }

    /// Runs `ut360 sync` and kills it with SIGKILL once it has written every rec and its whole
    /// temporary LOW-risk index, before it publishes: the profile stream waits on the monthly
    /// table, which this holds locked until the kill.
    public static async Task KillSyncBeforePublishAsync(TestDatabase db, TestRedis redis)
    {
        var k = redis.Keys;
        var lowRisk = await SyncTestKit.ScalarAsync<long>(db, "SELECT count(*) FROM recommendations WHERE bad_debt_risk = 'LOW'");
        await using var blocker = await db.DataSource.OpenConnectionAsync();
        await using var hold = await blocker.BeginTransactionAsync();
        await using (var lockCmd = new Npgsql.NpgsqlCommand("LOCK TABLE subscriber_monthly_arpu IN ACCESS EXCLUSIVE MODE", blocker, hold))
            await lockCmd.ExecuteNonQueryAsync();
        using var child = Start(db, redis, "sync", "--namespace", k.Namespace);
        var tempLow = (StackExchange.Redis.RedisKey)("{" + k.RiskIndex("LOW").ToString() + "}:next");
        await child.KillWhenAsync(async () => await redis.Db.SetLengthAsync(tempLow) == lowRisk);
        await hold.RollbackAsync();
    }

    /// Waits until PostgreSQL has dropped the dead process's sessions and their advisory locks.
    public static async Task WaitForLocksReleasedAsync(TestDatabase db)
    {
        var deadline = Stopwatch.StartNew();
        while (await SyncTestKit.ScalarAsync<long>(db, """
            SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND d.datname = current_database()
            """) > 0)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(1), "the killed process's locks were never released");
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill();
        _process.Dispose();
    }
}
