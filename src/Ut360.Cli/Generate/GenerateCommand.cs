using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Ut360.Data.Upstream;

namespace Ut360.Cli.Generate;

public static class GenerateCommand
{
    public static Command Create()
    {
        var subscribers = new Option<int>("--subscribers") { Description = "Number of subscribers.", DefaultValueFactory = _ => GenerateOptions.DefaultSubscribers };
        var months = new Option<int>("--months") { Description = "Months of ARPU history, ending with the month before --date.", DefaultValueFactory = _ => 7 };
        var seed = new Option<long>("--seed") { Description = "Random seed: the same seed and options give byte-identical files.", DefaultValueFactory = _ => 42 };
        var output = new Option<string>("--out") { Description = "Output directory.", DefaultValueFactory = _ => Path.Combine("data", "default") };
        var format = new Option<string>("--format") { Description = "parquet or csv.", DefaultValueFactory = _ => "parquet" };
        format.AcceptOnlyFromAmong("parquet", "csv");
        var isdnKey = new Option<string?>("--isdn-key") { Description = "AES key (32, 48 or 64 hex digits) that encrypts the ISDNs; default Ut360__IsdnKey, else the demo key." };
        var date = new Option<string>("--date") { Description = "recommendation_date / profile_date (YYYY-MM-DD).", DefaultValueFactory = _ => "2025-10-22" };

        var command = new Command("generate", "Write a realistic upstream dataset (recommendations, profiles, monthly_arpu); see docs/data-format.md.")
        {
            subscribers, months, seed, output, format, isdnKey, date,
        };
        command.SetAction(async (parse, ct) =>
        {
            if (!DateOnly.TryParseExact(parse.GetValue(date), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            {
                Console.Error.WriteLine("ut360 generate: --date must be YYYY-MM-DD.");
                return 2;
            }
            var key = parse.GetValue(isdnKey) ?? Environment.GetEnvironmentVariable("Ut360__IsdnKey");
            var options = new GenerateOptions
            {
                Subscribers = parse.GetValue(subscribers),
                Months = parse.GetValue(months),
                Seed = parse.GetValue(seed),
                Date = day,
                IsdnKeyHex = string.IsNullOrWhiteSpace(key) ? null : key.Trim(),
            };
            var fileFormat = parse.GetValue(format) == "csv" ? UpstreamFileFormat.Csv : UpstreamFileFormat.Parquet;
            try
            {
                return await RunAsync(options, parse.GetValue(output)!, fileFormat, ct);
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"ut360 generate: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    static async Task<int> RunAsync(GenerateOptions options, string directory, UpstreamFileFormat format, CancellationToken ct)
    {
        if (options.Subscribers is < 1 or > GenerateOptions.MaxSubscribers)
            throw new ArgumentException($"--subscribers must be between 1 and {GenerateOptions.MaxSubscribers:N0}.");
        if (options.Months is < 1 or > 60)
            throw new ArgumentException("--months must be between 1 and 60.");
        try
        {
            using (new Ut360.Data.Domain.IsdnCipher(options.IsdnKeyHex)) { }
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new ArgumentException("--isdn-key must be 32, 48 or 64 hexadecimal digits (an AES-128, -192 or -256 key).", e);
        }

        var clock = Stopwatch.StartNew();
        var progress = new GenerateProgress();
        long n = options.Subscribers, monthlyRows = n * options.Months;
        IReadOnlyList<WrittenFile> files = [];

        await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                var rankingTask = ctx.AddTask("ranking", maxValue: n);
                var recTask = ctx.AddTask("recommendations", maxValue: n);
                var profTask = ctx.AddTask("profiles", maxValue: n);
                var monthlyTask = ctx.AddTask("monthly_arpu", maxValue: monthlyRows);
                var work = Task.Run(async () =>
                {
                    files = await DatasetWriter.GenerateAsync(options, directory, format, progress, ct);
                }, ct);
                while (!work.IsCompleted)
                {
                    rankingTask.Value = Interlocked.Read(ref progress.Ranked);
                    recTask.Value = Interlocked.Read(ref progress.RecommendationsRows);
                    profTask.Value = Interlocked.Read(ref progress.ProfilesRows);
                    monthlyTask.Value = Interlocked.Read(ref progress.MonthlyRows);
                    ctx.Refresh();
                    await Task.WhenAny(work, Task.Delay(100, CancellationToken.None));
                }
                await work;
                rankingTask.Value = n;
                recTask.Value = n;
                profTask.Value = n;
                monthlyTask.Value = monthlyRows;
            });

        var seconds = clock.Elapsed.TotalSeconds;
        var table = new Table().AddColumns("file", "rows", "size");
        table.Columns[1].RightAligned();
        table.Columns[2].RightAligned();
        long total = 0;
        foreach (var f in files)
        {
            total += f.Rows;
            table.AddRow(Markup.Escape(f.Path), f.Rows.ToString("N0", CultureInfo.InvariantCulture), $"{f.Bytes / 1048576.0:0.0} MB");
        }
        table.AddRow("[bold]total[/]", $"[bold]{total.ToString("N0", CultureInfo.InvariantCulture)}[/]", "");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"generated {n:N0} subscribers × {options.Months} months (seed {options.Seed}) in [green]{seconds:0.00} s[/], {total / seconds:N0} rows/s"));
        return 0;
    }
}
