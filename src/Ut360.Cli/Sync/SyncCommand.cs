using System.CommandLine;
using System.Globalization;
using Npgsql;
using Spectre.Console;
using StackExchange.Redis;
using Ut360.Data;
using Ut360.Data.Redis;
using Ut360.Data.Sync;

namespace Ut360.Cli.Sync;

public static class SyncCommand
{
    public static Command Create()
    {
        var changedSince = new Option<string?>("--changed-since")
        {
            Description = "Push only the subscribers changed since a load (its data_loads id) or an ISO 8601 time.",
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Report what would change (writes, deletes, index moves) without writing." };
        var history = new Option<bool>("--history") { Description = "Print the recorded sync runs and exit." };
        var limit = new Option<int>("--limit") { Description = "Rows of --history.", DefaultValueFactory = _ => 20 };
        var ns = new Option<string>("--namespace")
        {
            Description = "Key namespace (production: ut360).",
            DefaultValueFactory = _ => RedisKeys.DefaultNamespace,
        };

        var command = new Command("sync", "Fill Redis from PostgreSQL with the design's key layout (full, or incremental with --changed-since).")
        {
            changedSince, dryRun, history, limit, ns,
        };
        command.SetAction(async (parse, ct) =>
        {
            await using var db = NpgsqlDataSource.Create(Ut360Settings.Postgres());
            if (parse.GetValue(history))
                return await PrintHistoryAsync(db, parse.GetValue(limit), ct);
            var keys = new RedisKeys(parse.GetValue(ns) ?? RedisKeys.DefaultNamespace);

            var request = new SyncRequest
            {
                Kind = parse.GetValue(changedSince) is null ? SyncKind.Full : SyncKind.Incremental,
                ChangedSince = parse.GetValue(changedSince),
                DryRun = parse.GetValue(dryRun),
                Trigger = "cli",
            };
            // The run is recorded before Redis is reached, so a kill or an unreachable server
            // still leaves its row in sync_runs.
            SyncClaim? claim;
            try
            {
                claim = await SyncClaim.TryTakeAsync(db, keys.Namespace, request, ct);
            }
            catch (SyncRequestException ex)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]ut360 sync:[/] {ex.Message}");
                return 2;
            }
            if (claim is null)
            {
                PrintSummary(await SyncClaim.RecordSkippedAsync(db, keys.Namespace, request, ct), keys);
                return 3;
            }

            var options = SyncRedis.Options(null);
            ConnectionMultiplexer redis;
            var connecting = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                redis = await ConnectionMultiplexer.ConnectAsync(options);
            }
            catch (RedisConnectionException e)
            {
                var reason = $"cannot reach Redis at {CommandErrors.Endpoints(options)} ({e.FailureType}, connectTimeout {options.ConnectTimeout} ms); nothing was written";
                await using (claim)
                    await claim.FailAsync(reason, connecting.Elapsed);
                var recorded = claim.RunId is { } failedRun ? $" (run {failedRun} recorded as failed)" : "";
                AnsiConsole.MarkupLineInterpolated($"[red]ut360 sync:[/] {reason}{recorded}");
                return 1;
            }
            await using var _ = redis;
            var result = await RunWithProgressAsync(new SyncEngine(db, redis, keys).Start(claim), request, ct);
            PrintSummary(result, keys);
            return result.Outcome switch
            {
                SyncOutcome.Succeeded or SyncOutcome.DryRun => 0,
                SyncOutcome.Skipped => 3,
                _ => 1,
            };
        });
        return command;
    }

    static async Task<SyncResult> RunWithProgressAsync(SyncEngine.SyncSession session, SyncRequest request, CancellationToken ct)
    {
        await using var _ = session;
        SyncResult? result = null;
        await AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(request.DryRun ? "dry run" : request.Kind + " sync", maxValue: 1);
                task.IsIndeterminate = true;
                var progress = new SpectreProgress(task);
                result = await session.ExecuteAsync(progress, ct);
                task.Value = task.MaxValue;
            });
        return result!;
    }

    sealed class SpectreProgress(ProgressTask task) : IProgress<SyncProgress>
    {
        public void Report(SyncProgress value)
        {
            task.Description = value.Phase;
            if (value.Total > 0)
            {
                task.IsIndeterminate = false;
                task.MaxValue = value.Total;
                task.Value = Math.Min(value.Done, value.Total);
            }
            else
            {
                task.IsIndeterminate = true;
            }
        }
    }

    static void PrintSummary(SyncResult r, RedisKeys keys)
    {
        var inv = CultureInfo.InvariantCulture;
        var color = r.Outcome switch { SyncOutcome.Succeeded => "green", SyncOutcome.DryRun => "yellow", _ => "red" };
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("outcome", $"[{color}]{r.Outcome}[/]" + (r.RunId is { } id ? $" (run {id})" : ""));
        grid.AddRow("kind", r.Kind + (r.ChangedSince is { } s ? $" since {s.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", inv)}" : ""));
        grid.AddRow("namespace", Markup.Escape(keys.Namespace));
        if (r.DataVersion is not null)
            grid.AddRow("data version", Markup.Escape(r.DataVersion));
        if (r.Outcome != SyncOutcome.Skipped)
        {
            grid.AddRow("subscribers", $"{r.Subscribers.ToString("N0", inv)} recs, {r.Profiles.ToString("N0", inv)} profiles pushed");
            grid.AddRow(r.Outcome == SyncOutcome.DryRun ? "would write" : "written", $"{r.KeysWritten.ToString("N0", inv)} keys");
            grid.AddRow(r.Outcome == SyncOutcome.DryRun ? "would delete" : "deleted", $"{r.KeysDeleted.ToString("N0", inv)} keys ({r.SubscribersRemoved.ToString("N0", inv)} subscribers gone from PostgreSQL)");
            grid.AddRow("new subscribers", r.SubscribersAdded.ToString("N0", inv));
            grid.AddRow("index moves", $"{r.IndexMoves.ToString("N0", inv)} subscribers changed service, risk or cluster");
            grid.AddRow("indexes", Markup.Escape(string.Join("  ", r.IndexCounts.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key}={k.Value.ToString(inv)}"))));
            grid.AddRow("duration", $"{r.Duration.TotalSeconds.ToString("0.00", inv)} s");
            if (r.Timings.Count > 0)
                grid.AddRow("phases (ends at)", Markup.Escape(string.Join("  ", r.Timings.Select(t => $"{t.Phase} {t.At.TotalSeconds.ToString("0.0", inv)}s"))));
            if (r.UsedMemory is { } used)
            {
                grid.AddRow("redis used_memory", $"{(used / 1048576.0).ToString("0.0", inv)} MiB ({used.ToString("N0", inv)} bytes)");
                if (r.BytesPerSubscriber is { } bps)
                    grid.AddRow("bytes per subscriber", bps.ToString("N0", inv) + " (whole server / subscribers in this namespace)");
            }
        }
        if (r.Message is not null)
            grid.AddRow("message", Markup.Escape(r.Message));
        AnsiConsole.Write(new Panel(grid).Header("ut360 sync").Border(BoxBorder.Rounded));
        foreach (var w in r.Warnings)
            AnsiConsole.MarkupLineInterpolated($"[yellow]warning:[/] {w}");
    }

    static async Task<int> PrintHistoryAsync(NpgsqlDataSource db, int limit, CancellationToken ct)
    {
        var inv = CultureInfo.InvariantCulture;
        // Piped into a file or another program, the console has no width: do not squeeze the
        // table into 80 columns.
        if (Console.IsOutputRedirected)
            AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 200);
        var (runs, loads) = await SyncRuns.MarkAbandonedAsync(db, ct);
        if (runs + loads > 0)
            AnsiConsole.MarkupLineInterpolated($"[yellow]marked {runs} sync run(s) interrupted and {loads} load(s) failed: their processes are gone[/]");
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("id", "kind", "trigger", "started (UTC)", "finished", "duration", "written", "deleted", "subscribers", "outcome", "message");
        await foreach (var r in SyncRuns.HistoryAsync(db, limit, ct))
        {
            table.AddRow(
                r.Id.ToString(inv), r.Kind, r.Trigger,
                r.StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", inv),
                r.FinishedAt?.UtcDateTime.ToString("HH:mm:ss", inv) ?? "",
                r.DurationMs is { } d ? (d / 1000.0).ToString("0.0", inv) + " s" : "",
                r.KeysWritten.ToString("N0", inv), r.KeysDeleted.ToString("N0", inv), r.Subscribers.ToString("N0", inv),
                Outcome(r.Outcome), Markup.Escape(r.Message ?? ""));
        }
        AnsiConsole.Write(table);
        return 0;
    }

    // An interrupted run (its process died before recording an outcome) stands out like a failure.
    static string Outcome(string outcome) => outcome switch
    {
        SyncOutcome.Succeeded => "[green]" + outcome + "[/]",
        SyncOutcome.Failed or SyncOutcome.Interrupted => "[red]" + outcome + "[/]",
        SyncOutcome.Skipped => "[yellow]" + outcome + "[/]",
        _ => Markup.Escape(outcome),
    };
}
