using System.CommandLine;
using System.Globalization;
using Npgsql;
using Spectre.Console;
using Spectre.Console.Rendering;
using Ut360.Data;
using Ut360.Data.Loading;

namespace Ut360.Cli.Load;

/// `ut360 load DIR`: checks and loads the upstream files (docs/loading.md).
/// Exit codes: 0 loaded, 1 failed, 2 a file problem stopped it before any change, 3 refused.
public static class LoadCommand
{
    public static Command Create()
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "Folder with recommendations, profiles and monthly_arpu (.parquet or .csv)." };
        var mode = new Option<string>("--mode")
        {
            Description = "snapshot: the files are the whole data set (absent subscribers are deleted); upsert: insert and update only.",
            DefaultValueFactory = _ => "snapshot",
        };
        mode.AcceptOnlyFromAmong("snapshot", "upsert");
        var maxRejectRate = new Option<double>("--max-reject-rate")
        {
            Description = "Refuse the load when more than this share of the rows is rejected.",
            DefaultValueFactory = _ => 0.01,
        };
        var rejects = new Option<FileInfo?>("--rejects") { Description = "Where to write the rejected rows (CSV). Default: load.rejects.csv." };
        var version = new Option<string?>("--data-version") { Description = "Label recorded in data_loads. Default: derived from the files' checksums." };
        var dualWrite = new Option<bool>("--dual-write")
        {
            Description = "After PostgreSQL commits, push the changed subscribers to Redis in the same run (a Redis failure leaves the load marked needs_sync).",
        };

        var maxDeletePercent = new Option<double>("--max-delete-percent")
        {
            Description = "Refuse the load, before it commits, when it would delete more than this percentage of the live subscribers or monthly rows (100 allows any).",
            DefaultValueFactory = _ => 5,
        };
        var encoding = new Option<string?>("--encoding") { Description = "Encoding of the CSV files, e.g. windows-1258 or utf-16. Default: UTF-8 (or what a byte order mark says)." };
        var delimiter = new Option<string?>("--delimiter") { Description = "CSV separator: one character, or 'tab'. Default: ','." };
        var timeZone = new Option<string?>("--time-zone")
        {
            Description = $"Business time zone: a Date column holding an instant means its date here. Default: configuration Load:TimeZone (env Load__TimeZone), else {LoadOptions.DefaultTimeZone}.",
        };

        var command = new Command("load", "Check and load upstream Parquet or CSV files into PostgreSQL.")
        {
            dir, mode, maxRejectRate, maxDeletePercent, rejects, version, encoding, delimiter, timeZone, dualWrite,
        };
        command.SetAction(async (parse, ct) =>
        {
            var separator = parse.GetValue(delimiter) switch
            {
                null => (char?)null,
                "tab" or "\\t" => '\t',
                { Length: 1 } one => one[0],
                var other => ' ',
            };
            if (separator == ' ')
            {
                AnsiConsole.MarkupLineInterpolated($"[red]load stopped before any change:[/] --delimiter takes one character or 'tab', not '{parse.GetValue(delimiter)}'");
                return 2;
            }
            var options = new LoadOptions
            {
                MaxDeletePercent = parse.GetValue(maxDeletePercent),
                ReturnIsdns = false, // the summary prints counts; the dual write reads the load's rows itself
                CsvEncoding = parse.GetValue(encoding),
                CsvDelimiter = separator,
                TimeZone = parse.GetValue(timeZone) ?? NonEmpty(Environment.GetEnvironmentVariable("Load__TimeZone")) ?? LoadOptions.DefaultTimeZone,
                Directory = parse.GetValue(dir)!.FullName,
                Mode = parse.GetValue(mode) == "upsert" ? LoadMode.Upsert : LoadMode.Snapshot,
                MaxRejectRate = parse.GetValue(maxRejectRate),
                RejectsFile = parse.GetValue(rejects)?.FullName,
                DataVersion = parse.GetValue(version),
            };
            await using var db = NpgsqlDataSource.Create(Ut360Settings.Postgres());
            var loader = new DataLoader(db);
            var started = DateTime.UtcNow;
            LoadResult result;
            try
            {
                result = await AnsiConsole.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new RowsColumn(), new ElapsedTimeColumn())
                    .StartAsync(async ctx => await loader.LoadAsync(options, new SpectreProgress(ctx), ct));
            }
            catch (LoadCheckException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]load stopped before any change:[/] {e.Message}");
                return 2;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or UnauthorizedAccessException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]load failed, the previous data is untouched:[/] {e.Message}");
                return 1;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A defect, not a file problem: said in one line, not as a stack trace.
                AnsiConsole.MarkupLineInterpolated($"[red]load failed, the previous data is untouched:[/] {e.GetType().Name}: {e.Message}");
                return 1;
            }
            Summary(result, DateTime.UtcNow - started);
            if (result.Outcome == LoadOutcome.Succeeded && parse.GetValue(dualWrite))
                await Sync.DualWriteStep.RunAsync(db, result.LoadId, ct);
            return result.Outcome == LoadOutcome.Succeeded ? 0 : 3;
        });
        return command;
    }

    static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    static void Summary(LoadResult r, TimeSpan elapsed)
    {
        static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn(new TableColumn("table").NoWrap()).AddColumn(new TableColumn("file rows").RightAligned())
            .AddColumn(new TableColumn("inserted").RightAligned()).AddColumn(new TableColumn("updated").RightAligned())
            .AddColumn(new TableColumn("deleted").RightAligned());
        table.AddRow("recommendations", N(r.Files[0].Rows), N(r.Recommendations.Inserted), N(r.Recommendations.Updated), N(r.Recommendations.Deleted));
        table.AddRow("subscriber_360_profiles", N(r.Files[1].Rows), N(r.Profiles.Inserted), N(r.Profiles.Updated), N(r.Profiles.Deleted));
        table.AddRow("subscriber_monthly_arpu", N(r.Files[2].Rows), N(r.Monthly.Inserted), N(r.Monthly.Updated), N(r.Monthly.Deleted));
        // Stats rows are merged like the data; this is how many the data's dates have.
        table.AddRow("recommendation_stats", "", $"{N(r.StatsRows)} rows", "", "");
        AnsiConsole.Write(table);

        var colour = r.Outcome == LoadOutcome.Succeeded ? "green" : "red";
        AnsiConsole.MarkupLineInterpolated($"load [bold]{r.LoadId}[/] ({r.Mode.ToString().ToLowerInvariant()}, {r.Format}, version {r.DataVersion}): [{colour}]{r.Message}[/]");
        var totalRows = r.Files.Sum(f => (long)f.Rows);
        AnsiConsole.MarkupLineInterpolated($"rejected rows: {N(r.RejectedRows)} of {N(totalRows)} ({N(r.RejectedSubscribers)} subscribers kept as they were){(r.RejectsFile is null ? "" : " -> " + r.RejectsFile)}");
        if (r.TopCauses.Count > 0)
        {
            AnsiConsole.MarkupLine(r.Outcome == LoadOutcome.Succeeded ? "most frequent reasons for rejected rows:" : "[red]why the rows were rejected[/] (most frequent first):");
            foreach (var c in r.TopCauses)
                AnsiConsole.MarkupLineInterpolated($"  {c.File}, column {c.Column}: {c.Reason} ({N(c.Rows)} rows)");
        }
        if (r.Outcome == LoadOutcome.Succeeded)
            AnsiConsole.MarkupLineInterpolated($"subscribers changed: {N(r.ChangedSubscribers)}, removed: {N(r.DeletedSubscribers)}");
        AnsiConsole.MarkupLineInterpolated(
            $"time: {elapsed.TotalSeconds:F1} s ({string.Join(", ", r.Timings.Select(t => $"{t.Stage} {t.Elapsed.TotalSeconds:F1} s"))})");
    }

    /// Maps the loader's stage reports onto progress tasks, one per stage.
    sealed class SpectreProgress(ProgressContext ctx) : IProgress<LoadProgress>
    {
        readonly Dictionary<string, ProgressTask> _tasks = [];
        ProgressTask? _current;

        // The loader reads its three files on separate threads.
        readonly Lock _lock = new();

        public void Report(LoadProgress value)
        {
            lock (_lock)
                Update(value);
        }

        void Update(LoadProgress value)
        {
            if (!_tasks.TryGetValue(value.Stage, out var task))
            {
                if (_current is { IsFinished: false } previous)
                {
                    previous.MaxValue = Math.Max(previous.Value, 1);
                    previous.Value = previous.MaxValue;
                }
                task = ctx.AddTask(value.Stage, autoStart: true, maxValue: Math.Max(value.Total, 1));
                task.IsIndeterminate = value.Total == 0;
                _tasks[value.Stage] = task;
                _current = task;
            }
            if (value.Total > 0)
                task.MaxValue = value.Total;
            task.Value = value.Done;
        }
    }

    /// "1,234,567 rows  812,345/s"; the merge stage counts steps, not rows.
    sealed class RowsColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            if (task.Description is "merge" or "indexes and stats")
                return new Markup($"{task.Value:0}/{task.MaxValue:0} steps");
            var speed = task.Speed is { } s ? $"{s.ToString("N0", CultureInfo.InvariantCulture)} rows/s" : "";
            return new Markup($"{task.Value.ToString("N0", CultureInfo.InvariantCulture)} rows  [grey]{speed}[/]");
        }
    }
}
