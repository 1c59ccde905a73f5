using System.Net;
using System.Net.Sockets;
using Ut360.Data.Sync;
using Ut360.Tests.Infrastructure;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Sync;

/// Issue 16, item 8: a sync is recorded in sync_runs before it reaches Redis, so a run killed
/// while it connects still leaves a row (one that cannot connect at all: SyncServerTests).
public sealed class SyncRunRecordTests
{
    [Fact]
    public async Task A_sync_killed_while_it_connects_to_redis_leaves_a_run_that_the_next_sync_marks_interrupted()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var redis = await TestRedis.CreateAsync();
        await FillAsync(db, 10);
        // Accepts connections (the kernel's backlog) and never answers: the sync waits in its
        // handshake until connectTimeout, long after the kill.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;

        using (var child = SyncChild.Start(db, $"127.0.0.1:{port},connectTimeout=60000", "sync", "--namespace", redis.Keys.Namespace))
            await child.KillWhenAsync(async () => await ScalarAsync<long>(db, "SELECT count(*) FROM sync_runs WHERE outcome = 'running'") == 1);
        var killed = await ScalarAsync<long>(db, "SELECT id FROM sync_runs");
        Assert.False(await redis.Db.KeyExistsAsync(redis.Keys.MetaStats));
        await SyncChild.WaitForLocksReleasedAsync(db);

        Assert.Equal(SyncOutcome.Succeeded, (await FullAsync(db, redis)).Outcome);
        Assert.Equal(SyncOutcome.Interrupted, await ScalarAsync<string>(db, $"SELECT outcome FROM sync_runs WHERE id = {killed}"));
        Assert.True(await ScalarAsync<bool>(db, $"SELECT finished_at IS NOT NULL AND message LIKE 'ended without recording an outcome%' FROM sync_runs WHERE id = {killed}"));
    }
}
