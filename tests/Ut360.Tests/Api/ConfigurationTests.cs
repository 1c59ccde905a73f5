using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Ut360.Data;
using Ut360.Data.Loading;
using Ut360.Tests.Load;

namespace Ut360.Tests.Api;

/// The built API started as a process, the way it is deployed: a setting it cannot run without
/// stops it at once, exit code 1, with a message naming the setting.
public sealed class StartupTests
{
    static string ApiDll()
    {
        // tests/Ut360.Tests/bin/<Configuration>/net10.0 → src/Ut360.Api/bin/<Configuration>/net10.0
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var (framework, configuration) = (here.Name, here.Parent!.Name);
        var root = here.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        return Path.Combine(root, "src", "Ut360.Api", "bin", configuration, framework, "Ut360.Api.dll");
    }

    static async Task<(int ExitCode, string Errors)> StartAsync(params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet", [ApiDll(), "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // Nothing from the test run's own environment: only what the case names.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal)
                     || k.StartsWith("Ut360__", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)
                     || k.StartsWith("DOTNET_ENVIRONMENT", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the API started instead of refusing to: " + await output);
        }
        return (process.ExitCode, await errors + await output);
    }

    [Fact]
    public async Task Without_connection_strings_the_api_stops_naming_each_one()
    {
        var (exit, errors) = await StartAsync(("ASPNETCORE_ENVIRONMENT", "Production"), ("Ut360__IsdnKey", new string('a', 32)));
        Assert.Equal(1, exit);
        Assert.Contains("ConnectionStrings:Postgres", errors, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings:Redis", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", errors, StringComparison.Ordinal);   // no stack trace
    }

    [Fact]
    public async Task In_production_without_an_isdn_key_the_api_refuses_to_start()
    {
        var (exit, errors) = await StartAsync(("ASPNETCORE_ENVIRONMENT", "Production"),
            ("ConnectionStrings__Postgres", Ut360Settings.DefaultPostgres), ("ConnectionStrings__Redis", Ut360Settings.DefaultRedis));
        Assert.Equal(1, exit);
        Assert.Contains("Ut360:IsdnKey", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", errors, StringComparison.Ordinal);
    }
}

/// A database whose sessions default to Vietnam's time zone (UTC+7), loaded by the loader with
/// such a session; the API is also given a connection string in that zone.
public sealed class TimeZoneFactory : ApiFactory
{
    const string Zone = "Asia/Ho_Chi_Minh";
    public DateTime LoadedFrom { get; private set; }
    public DateTime LoadedUntil { get; private set; }

    protected override string? PostgresConnectionString => new NpgsqlConnectionStringBuilder(Db.ConnectionString) { Timezone = Zone }.ConnectionString;

    protected override async Task SeedAsync()
    {
        await using (var cmd = Db.DataSource.CreateCommand($"ALTER DATABASE {Db.Name} SET TimeZone = '{Zone}'"))
            await cmd.ExecuteNonQueryAsync();
        var dir = UpstreamFixture.Create(3).WriteTo(Path.Combine(Path.GetTempPath(), "ut360-tz-" + Guid.NewGuid().ToString("N")[..8]), "parquet");
        await using var local = NpgsqlDataSource.Create(PostgresConnectionString!);
        await using (var cmd = local.CreateCommand("SHOW TimeZone"))
            Assert.Equal(Zone, (string)(await cmd.ExecuteScalarAsync())!);
        LoadedFrom = DateTime.UtcNow.AddSeconds(-5);
        var result = await new DataLoader(local).LoadAsync(new LoadOptions { Directory = dir, RejectsFile = Path.Combine(dir, "rejects.csv") });
        Assert.Equal(LoadOutcome.Succeeded, result.Outcome);
        LoadedUntil = DateTime.UtcNow.AddSeconds(5);
        Directory.Delete(dir, recursive: true);
    }
}

public sealed class TimeZoneTests(TimeZoneFactory api) : IClassFixture<TimeZoneFactory>
{
    [Fact]
    public async Task Times_are_stored_and_served_in_utc_when_the_database_is_in_another_zone()
    {
        var isdn = UpstreamFixture.Isdn(1);
        await using (var cmd = api.Db.DataSource.CreateCommand("SELECT updated_at FROM subscriber_360_profiles WHERE isdn = @isdn"))
        {
            cmd.Parameters.AddWithValue("isdn", isdn);
            var stored = (DateTime)(await cmd.ExecuteScalarAsync())!;
            Assert.InRange(stored, api.LoadedFrom, api.LoadedUntil);
        }
        // Read from PostgreSQL (nothing is in Redis), written into Redis, then read from there.
        foreach (var source in new[] { "miss", "hit" })
        {
            using var client = api.Client();
            var response = await client.GetAsync($"/api/v1/profiles/{Paths.Escape(isdn)}");
            response.EnsureSuccessStatusCode();
            var json = await response.Content.ReadFromJsonAsync<JsonElement>();
            var served = json.GetProperty("updated_at").GetDateTimeOffset();
            Assert.Equal(TimeSpan.Zero, served.Offset);
            Assert.InRange(served.UtcDateTime, api.LoadedFrom, api.LoadedUntil);
            if (source == "miss")
                await Infrastructure.Poll.UntilAsync(async () => await api.Redis.Db.KeyExistsAsync(api.Redis.Keys.Profile(isdn)), "the profile written back to Redis");
        }
    }
}
