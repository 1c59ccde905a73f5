using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Ut360.Api.Infrastructure;
using Ut360.Data.Redis;

namespace Ut360.Api.Admin;

/// Operations: trigger a Redis sync, its history, the cache counters.
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdmin(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/admin").WithTags("Admin").RequireAuthorization(Roles.Admin);
        api.MapPost("/sync", StartSync).ProducesProblem(StatusCodes.Status409Conflict).WithName("StartSync").WithSummary("Start a full Redis sync (202 with the run id; 409 while one runs)");
        api.MapGet("/sync/history", History).WithName("SyncHistory").WithSummary("The latest Redis sync runs (sync_runs)");
        api.MapGet("/cache", Cache).WithName("CacheStats").WithSummary("Cache hits, misses and fallbacks since start");
        return app;
    }

    const string HistorySql = """
        SELECT id, kind, trigger, started_at, finished_at, duration_ms, keys_written, keys_deleted, outcome, message
          FROM sync_runs
         ORDER BY started_at DESC, id DESC
         LIMIT @limit
        """;

    public static async Task<Results<Accepted<SyncStarted>, ProblemHttpResult>> StartSync(SyncRunner runner, CancellationToken ct)
    {
        var runId = await runner.StartAsync(ct);
        return runId is { } id
            ? TypedResults.Accepted("/api/v1/admin/sync/history", new SyncStarted(id))
            : TypedResults.Problem(title: "A sync is already running", detail: "Wait for it to finish (see the sync history).",
                statusCode: StatusCodes.Status409Conflict);
    }

    public static async Task<Results<Ok<SyncRunView[]>, ValidationProblem>> History(int? limit, NpgsqlDataSource db, CancellationToken ct)
    {
        if (limit is < 1 or > 500)
            return Validation.Problem("limit", "Expected 1 to 500.");
        await using var cmd = db.CreateCommand(HistorySql);
        cmd.Parameters.Add(new NpgsqlParameter<int>("limit", limit ?? 20));
        var runs = new List<SyncRunView>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            runs.Add(new SyncRunView(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3),
                r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4), r.IsDBNull(5) ? null : r.GetInt64(5),
                r.GetInt32(6), r.GetInt32(7), r.GetString(8), r.IsDBNull(9) ? null : r.GetString(9)));
        return TypedResults.Ok(runs.ToArray());
    }

    public static Ok<CacheStats> Cache(ApiMetrics metrics, RedisCircuit circuit)
    {
        var (hits, misses, fallbacks) = (metrics.Hits, metrics.Misses, metrics.Fallbacks);
        var total = hits + misses + fallbacks;
        return TypedResults.Ok(new CacheStats(hits, misses, fallbacks, total == 0 ? 0 : Math.Round((double)hits / total, 4),
            metrics.PostgresReads, metrics.Coalesced, circuit.IsOpen));
    }
}

public sealed record SyncRunView(long Id, string Kind, string Trigger, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt,
    long? DurationMs, int KeysWritten, int KeysDeleted, string Outcome, string? Message);

public sealed record SyncStarted(long RunId);

public sealed record CacheStats(long Hits, long Misses, long Fallbacks, double HitRatio, long PostgresReads, long Coalesced, bool CircuitOpen);

/// Runs a full sync (src/Ut360.Data/Sync) in the background for POST /admin/sync. The sync gets
/// a Redis connection of its own (SyncRedis: admin commands, long timeouts): its write windows
/// would blow the request path's 250 ms budget, and its traffic should not queue ahead of UC1 reads.
public sealed class SyncRunner(NpgsqlDataSource db, RedisKeys keys, IConfiguration config, IHostApplicationLifetime lifetime, ILogger<SyncRunner> logger)
{
    /// The run id, or null when another sync holds the lock. The run is recorded before Redis is
    /// reached, so one that cannot connect ends 'failed' with the reason (SyncClaim).
    public async Task<long?> StartAsync(CancellationToken ct)
    {
        var claim = await Ut360.Data.Sync.SyncClaim.TryTakeAsync(db, keys.Namespace,
            new Ut360.Data.Sync.SyncRequest { Kind = Ut360.Data.Sync.SyncKind.Full, Trigger = "api" }, ct);
        if (claim is null)
            return null;
        // The sync's own settings: admin commands (CONFIG, INFO, SCAN per master) and a long timeout.
        StackExchange.Redis.ConnectionMultiplexer redis;
        try
        {
            redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(Ut360.Data.Sync.SyncRedis.Options(config));
        }
        catch (Exception e)
        {
            await using (claim)
                await claim.FailAsync("cannot reach Redis: " + e.Message, TimeSpan.Zero);
            throw;
        }
        var session = new Ut360.Data.Sync.SyncEngine(db, redis, keys).Start(claim);
        _ = Task.Run(async () =>
        {
            try
            {
                await using (session)
                {
                    var result = await session.ExecuteAsync(null, lifetime.ApplicationStopping);
                    logger.LogInformation("Sync {RunId} finished: {Outcome} in {Duration}", result.RunId, result.Outcome, result.Duration);
                }
            }
            catch (Exception e)
            {
                logger.LogError(e, "Sync {RunId} failed", session.RunId);
            }
            finally
            {
                await redis.DisposeAsync();
            }
        }, CancellationToken.None);   // the run outlives the request that started it
        return session.RunId ?? 0;
    }
}

/// Feeds the sync gauges of /metrics (runs recorded, age of the data in Redis) from sync_runs.
public sealed class SyncStatusPoller(NpgsqlDataSource db, ApiMetrics metrics, RedisCircuit circuit, ILogger<SyncStatusPoller> logger) : BackgroundService
{
    const string Sql = "SELECT count(*), max(finished_at) FILTER (WHERE outcome = 'succeeded') FROM sync_runs";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(15));
        do
        {
            metrics.CircuitOpen = circuit.IsOpen;
            try
            {
                await using var cmd = db.CreateCommand(Sql);
                await using var r = await cmd.ExecuteReaderAsync(stoppingToken);
                if (await r.ReadAsync(stoppingToken))
                {
                    metrics.SyncRuns = r.GetInt64(0);
                    metrics.LastSyncFinished = r.IsDBNull(1) ? null : r.GetFieldValue<DateTimeOffset>(1);
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Retried on the next tick, whatever the fault: the gauges only go stale.
                if (e is NpgsqlException or TimeoutException or OperationCanceledException)
                    logger.LogDebug(e, "Reading sync_runs failed");
                else
                    logger.LogWarning(e, "Reading sync_runs failed");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
