using System.Diagnostics;

namespace Ut360.Tests.Infrastructure;

/// The `ut360` CLI the test project references, run as a real process from the test's output
/// directory against servers the test names (its own database, its own Redis), plain text out.
public static class CliProcess
{
    /// The start info: `dotnet Ut360.Cli.dll args…` with the connection strings and any extra
    /// environment variables set; output redirected.
    public static ProcessStartInfo Info(string postgres, string? redis, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Ut360.Cli.dll"));
        foreach (var a in args)
            info.ArgumentList.Add(a);
        info.Environment["ConnectionStrings__Postgres"] = postgres;
        if (redis is not null)
            info.Environment["ConnectionStrings__Redis"] = redis;
        info.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        return info;
    }

    public static Process Start(ProcessStartInfo info) =>
        Process.Start(info) ?? throw new InvalidOperationException("could not start the CLI");

    /// Runs to the end; the exit code and stdout followed by stderr.
    public static async Task<(int Code, string Output)> RunAsync(ProcessStartInfo info)
    {
        using var process = Start(info);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
