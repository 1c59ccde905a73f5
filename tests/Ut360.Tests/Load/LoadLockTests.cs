using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Ut360.Data.Loading;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Load;

/// Issue 16, item 7: a retry right after a killed load waits for the dead load's rollback and says
/// so; a live load still refuses it.
public sealed class LoadLockTests : IDisposable
{
    const long LoadLockKey = 0x75743336304C;
    readonly string _root = Path.Combine(Path.GetTempPath(), "ut360-loadlock-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    // A session that holds the load lock under a loader's application_name, busy for `busy`
    // (as a backend rolling back a killed load's transaction is), then ends.
    static async Task<Task> HoldAsync(TestDatabase db, int pid, TimeSpan busy, TaskCompletionSource held)
    {
        var conn = await db.DataSource.OpenConnectionAsync();
        await using (var cmd = new NpgsqlCommand(
            $"SET application_name = 'ut360 load {Environment.MachineName} {pid.ToString(CultureInfo.InvariantCulture)}'; SELECT pg_advisory_lock({LoadLockKey})", conn))
            await cmd.ExecuteNonQueryAsync();
        held.SetResult();
        return Task.Run(async () =>
        {
            await using (conn)
            await using (var sleep = new NpgsqlCommand($"SELECT pg_sleep({busy.TotalSeconds.ToString(CultureInfo.InvariantCulture)}); SELECT pg_advisory_unlock_all()", conn))
                await sleep.ExecuteNonQueryAsync();
        });
    }

    Task<LoadResult> LoadAsync(TestDatabase db) => new DataLoader(db.DataSource).LoadAsync(new LoadOptions
    {
        Directory = UpstreamFixture.Create(20).WriteTo(Path.Combine(_root, "v1"), "csv"),
        RejectsFile = Path.Combine(_root, "rejects.csv"),
    });

    [Fact]
    public async Task A_load_retried_while_a_dead_loaders_session_still_holds_the_lock_waits_for_it_and_says_how_long()
    {
        await using var db = await TestDatabase.CreateAsync();
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await gone.WaitForExitAsync();
        var held = new TaskCompletionSource();
        var holder = await HoldAsync(db, gone.Id, TimeSpan.FromSeconds(1.5), held);
        await held.Task;

        var result = await LoadAsync(db);
        await holder;

        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        var (_, waited) = Assert.Single(result.Timings, t => t.Stage == "previous load rolling back");
        Assert.True(waited > TimeSpan.Zero);
    }

    [Fact]
    public async Task A_load_started_while_a_live_load_holds_the_lock_is_refused_at_once()
    {
        await using var db = await TestDatabase.CreateAsync();
        var held = new TaskCompletionSource();
        var holder = await HoldAsync(db, Environment.ProcessId, TimeSpan.FromSeconds(3), held);
        await held.Task;

        var e = await Assert.ThrowsAsync<LoadCheckException>(() => LoadAsync(db));
        Assert.Contains("another load is running", e.Message, StringComparison.Ordinal);
        await holder;
    }
}
