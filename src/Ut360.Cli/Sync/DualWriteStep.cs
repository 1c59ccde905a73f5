using System.Globalization;
using Npgsql;
using Spectre.Console;
using StackExchange.Redis;
using Ut360.Data.Redis;
using Ut360.Data.Sync;

namespace Ut360.Cli.Sync;

/// The Redis half of `ut360 load DIR --dual-write`. The load has committed: whatever happens
/// here, PostgreSQL's data stands, so a failure is reported, not returned as the load's exit code.
public static class DualWriteStep
{
    public static async Task RunAsync(NpgsqlDataSource db, long loadId, CancellationToken ct)
    {
        var inv = CultureInfo.InvariantCulture;
        // abortConnect=false: an unreachable Redis surfaces as a failed write, which DualWrite
        // turns into needs_sync, instead of an exception here.
        var options = SyncRedis.Options(null);
        options.AbortOnConnectFail = false;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
        var r = await DualWrite.ApplyAsync(db, redis, RedisKeys.Default, loadId, null, ct);
        if (r.Outcome == SyncOutcome.Succeeded)
            AnsiConsole.MarkupLineInterpolated(
                $"dual write (sync run {r.RunId}): [green]{r.Subscribers.ToString("N0", inv)} subscribers pushed to Redis[/], {r.KeysWritten.ToString("N0", inv)} keys written, {r.KeysDeleted.ToString("N0", inv)} deleted, {r.IndexMoves.ToString("N0", inv)} index moves in {r.Duration.TotalSeconds.ToString("0.0", inv)} s");
        else
            AnsiConsole.MarkupLineInterpolated($"[yellow]dual write: {r.Outcome}[/]: {r.Message ?? ""}");
    }
}
