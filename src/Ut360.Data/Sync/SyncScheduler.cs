using System.ComponentModel.DataAnnotations;
using Cronos;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

public sealed class SyncOptions
{
    /// Cron expression (5 fields, UTC). The design syncs every 6 hours.
    [Required]
    public string Schedule { get; set; } = "0 */6 * * *";

    /// Set false to run the API without the periodic sync (e.g. a second read-only instance).
    public bool Enabled { get; set; } = true;

    public string Namespace { get; set; } = RedisKeys.DefaultNamespace;

    /// How often SyncWatchdog checks for a run that stopped mid-write or a Redis that lost its
    /// data (and starts a full sync); 0 turns it off.
    [Range(0, 3600)]
    public int WatchSeconds { get; set; } = 10;
}

/// Runs a full sync on the cron schedule `Sync:Schedule`. Every instance of the service runs
/// one; the advisory lock in SyncEngine lets one of them work and records the others as
/// skipped, so N instances never mean N syncs.
// SyncService is resolved at the first run, not at start: its Redis connection must not stop the
// service from starting while Redis is down.
public sealed class SyncScheduler(IServiceProvider services, IOptions<SyncOptions> options, ILogger<SyncScheduler> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
            return;
        var cron = CronExpression.Parse(options.Value.Schedule);
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = cron.GetNextOccurrence(DateTimeOffset.UtcNow, TimeZoneInfo.Utc);
            if (next is null)
                return;
            var delay = next.Value - DateTimeOffset.UtcNow;
            if (delay > TimeSpan.Zero)
                await Task.Delay(delay, stoppingToken);
            try
            {
                var sync = services.GetRequiredService<SyncService>();
                var result = await sync.RunAsync(new SyncRequest { Kind = SyncKind.Full, Trigger = "schedule" }, stoppingToken);
                log.LogInformation("Scheduled sync {RunId}: {Outcome}, {Written} keys written, {Deleted} deleted in {Duration}",
                    result.RunId, result.Outcome, result.KeysWritten, result.KeysDeleted, result.Duration);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Any fault, expected or not, is recorded and left to the next occurrence: the
                // schedule never stops the service that runs it.
                log.LogError(ex, "Scheduled sync failed");
            }
        }
    }
}

/// The sync as a service of the API: the scheduler and POST /api/v1/admin/sync use it.
public sealed class SyncService(NpgsqlDataSource db, [FromKeyedServices(SyncService.RedisKey)] IConnectionMultiplexer redis,
    IOptions<SyncOptions> options, ILogger<SyncService> log)
{
    public const string RedisKey = "ut360-sync";

    public SyncEngine Engine { get; } = new(db, redis, new RedisKeys(options.Value.Namespace));

    public Task<SyncResult> RunAsync(SyncRequest request, CancellationToken ct) => Engine.RunAsync(request, null, ct);

    /// Starts a full sync in the background and returns its run id, or null when one is
    /// already running (the API answers 202 or 409) or stillNeeded, asked once the lock is held,
    /// says no.
    public async Task<long?> TryStartFullSyncAsync(string trigger, CancellationToken ct, Func<CancellationToken, Task<bool>>? stillNeeded = null)
    {
        var session = await Engine.BeginAsync(new SyncRequest { Kind = SyncKind.Full, Trigger = trigger }, ct, stillNeeded);
        if (session is null)
            return null;
        _ = Task.Run(async () =>
        {
            await using (session)
            {
                try
                {
                    await session.ExecuteAsync(null, CancellationToken.None);
                }
                catch (Exception ex) when (ex is RedisException or NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    log.LogError(ex, "Sync {RunId} failed", session.RunId);
                }
            }
        }, CancellationToken.None);
        return session.RunId;
    }

    public IAsyncEnumerable<SyncRunRow> HistoryAsync(int limit, CancellationToken ct) => SyncRuns.HistoryAsync(db, limit, ct);
}

public static class SyncServiceCollectionExtensions
{
    /// Registers SyncService (for the admin endpoints) and the cron SyncScheduler. Needs an
    /// NpgsqlDataSource registered; opens a Redis connection of its own with admin commands on.
    public static IServiceCollection AddUt360Sync(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SyncOptions>().BindConfiguration("Sync").ValidateDataAnnotations()
            .Validate(o => CronValid(o.Schedule), "Sync:Schedule is not a valid cron expression")
            .ValidateOnStart();
        services.AddKeyedSingleton<IConnectionMultiplexer>(SyncService.RedisKey,
            (_, _) => ConnectionMultiplexer.Connect(SyncRedis.Options(configuration)));
        services.AddSingleton<SyncService>();
        services.AddHostedService<SyncScheduler>();
        services.AddHostedService<SyncWatchdog>();
        return services;
    }

    static bool CronValid(string s)
    {
        try
        {
            CronExpression.Parse(s);
            return true;
        }
        catch (CronFormatException)
        {
            return false;
        }
    }
}
