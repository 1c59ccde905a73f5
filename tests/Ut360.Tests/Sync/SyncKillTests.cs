using System.Diagnostics;
using System.Text;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

/// A real `ut360 sync` process killed with SIGKILL in the middle of its writes.
public sealed class SyncKillTests
{
    [Theory]
    [InlineData("standalone")]
    [ClusterData]
    public async Task A_sync_process_killed_with_sigkill_leaves_the_previous_version_readable_and_the_next_sync_converges(string target)
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync(target);
        await FillAsync(db, 3000);
        await FullAsync(db, redis);
        var k = redis.Keys;
        var before = await DumpAsync(redis);
        var liveBefore = before.Where(e => IsIndexOrMeta(e.Key)).ToDictionary(e => e.Key, e => e.Value);

        // The next version: 100 subscribers gone, 200 moved to cluster 5.
        var gone = await IsdnsAsync(db, "id <= 100");
        await DeleteAsync(db, "id <= 100");
        await ExecAsync(db, "UPDATE recommendations SET cluster_group = 5, updated_at = now() WHERE id BETWEEN 101 AND 300");
        var lowRisk = await ScalarAsync<long>(db, "SELECT count(*) FROM recommendations WHERE bad_debt_risk = 'LOW'");

        // Hold the monthly ARPU table so the child's profile stream waits on it: its recommendation
        // stream meanwhile writes every rec and the whole temporary indexes, then the process is
        // stuck between writing and publishing, where it is killed. No timing involved.
        await using var blocker = await db.DataSource.OpenConnectionAsync();
        await using var hold = await blocker.BeginTransactionAsync();
        await using (var lockCmd = new NpgsqlCommand("LOCK TABLE subscriber_monthly_arpu IN ACCESS EXCLUSIVE MODE", blocker, hold))
            await lockCmd.ExecuteNonQueryAsync();

        using var child = StartCli(db, redis, "sync", "--namespace", k.Namespace);
        var output = new StringBuilder();
        child.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        child.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();

        // Poll: the run recorded as running and the new LOW-risk index complete under its temporary name.
        var tempLow = (RedisKey)("{" + k.RiskIndex("LOW").ToString() + "}:next");
        var deadline = Stopwatch.StartNew();
        long runId = 0;
        while (true)
        {
            Assert.False(child.HasExited, $"the sync exited ({(child.HasExited ? child.ExitCode : 0)}) before it could be killed:\n{output}");
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2), $"the sync never reached the middle of its writes:\n{output}");
            runId = await ScalarAsync<long>(db, "SELECT coalesce(max(id), 0) FROM sync_runs WHERE outcome = 'running'");
            if (runId > 0 && await redis.Db.SetLengthAsync(tempLow) == lowRisk)
                break;
            await Task.Delay(20);
        }

        child.Kill();  // SIGKILL on Unix
        await child.WaitForExitAsync();
        Assert.Equal(137, child.ExitCode);
        await hold.RollbackAsync();
        // The server drops the dead client's sessions (and with them the sync lock) on its own.
        while (await ScalarAsync<long>(db, """
            SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND d.datname = current_database()
            """) > 0)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(3), "the killed sync's lock was never released");
            await Task.Delay(20);
        }

        // The previous version is still what readers see: every index and the meta unchanged,
        // counts as before, the gone subscribers' records still there.
        var during = await DumpAsync(redis);
        foreach (var (key, value) in liveBefore)
            Assert.True(during.TryGetValue(key, out var now) && now == value, $"{key} changed under a killed sync");
        Assert.Equal(liveBefore.Keys.Order(), during.Keys.Where(IsIndexOrMeta).Order());
        Assert.Equal("3000", (string?)await redis.Db.HashGetAsync(k.MetaStats, "total_subscribers"));
        foreach (var i in gone.Take(10))
            Assert.True(await redis.Db.KeyExistsAsync(k.Rec(i)));
        Assert.Equal("running", await ScalarAsync<string>(db, $"SELECT outcome FROM sync_runs WHERE id = {runId}"));

        // The next sync marks the killed run interrupted and converges.
        var result = await FullAsync(db, redis);

        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.Equal(SyncOutcome.Interrupted, await ScalarAsync<string>(db, $"SELECT outcome FROM sync_runs WHERE id = {runId}"));
        Assert.True(await ScalarAsync<bool>(db, $"SELECT finished_at IS NOT NULL AND message LIKE '%killed%' FROM sync_runs WHERE id = {runId}"));
        Assert.Empty(await KeysAsync(redis, "{" + k.Namespace + ":*"));
        foreach (var i in gone.Take(10))
            Assert.False(await redis.Db.KeyExistsAsync(k.Rec(i)));
        Assert.Equal(200, await redis.Db.SetLengthAsync(k.ClusterIndex(5)));
        Assert.Equal("2900", (string?)await redis.Db.HashGetAsync(k.MetaStats, "total_subscribers"));
        await using var fresh = await RedisAsync(target);
        await FullAsync(db, fresh);
        AssertSameDump(await DumpAsync(fresh), await DumpAsync(redis));

        // --history shows it.
        using var history = StartCli(db, redis, "sync", "--history", "--limit", "5");
        var text = await history.StandardOutput.ReadToEndAsync();
        await history.WaitForExitAsync();
        Assert.Equal(0, history.ExitCode);
        Assert.Contains(SyncOutcome.Interrupted, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sync_marks_only_its_own_namespaces_running_rows_interrupted()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await RedisAsync("standalone");
        await FillAsync(db, 50);
        var ours = await ScalarAsync<long>(db, $"INSERT INTO sync_runs (kind, trigger, namespace) VALUES ('full', 'cli', '{redis.Keys.Namespace}') RETURNING id");
        var other = await ScalarAsync<long>(db, "INSERT INTO sync_runs (kind, trigger, namespace) VALUES ('full', 'cli', 'another:ut360') RETURNING id");

        var result = await FullAsync(db, redis);

        Assert.Equal(SyncOutcome.Succeeded, result.Outcome);
        Assert.Equal(SyncOutcome.Interrupted, await ScalarAsync<string>(db, $"SELECT outcome FROM sync_runs WHERE id = {ours}"));
        Assert.Equal("running", await ScalarAsync<string>(db, $"SELECT outcome FROM sync_runs WHERE id = {other}"));
        var history = await SyncRuns.HistoryAsync(db.DataSource, 10, default).ToListAsync();
        Assert.Contains(history, r => r.Id == ours && r.Outcome == SyncOutcome.Interrupted && r.FinishedAt is not null);
    }

    static bool IsIndexOrMeta(string key) =>
        key.Contains(":idx:", StringComparison.Ordinal) && !key.StartsWith('{') || key.EndsWith(":meta:stats", StringComparison.Ordinal);

    // The CLI the test project references, run from the test's output directory against the
    // test's own database and Redis namespace.
    static Process StartCli(TestDatabase db, TestRedis redis, params string[] args) =>
        CliProcess.Start(CliProcess.Info(db.ConnectionString, redis.ConnectionString, null, args));
}
