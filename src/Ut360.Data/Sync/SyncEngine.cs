using System.Diagnostics;
using System.Globalization;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// Fills Redis from PostgreSQL with the layout of design section 2.2 (A–F) and keeps it fresh.
/// Used by `ut360 sync`, `ut360 load --dual-write`, the scheduler and POST /api/v1/admin/sync.
/// This class holds what every mode shares: one sync at a time per namespace (SyncLock), the
/// sync_runs record, the outcome. The caller picks the mode with SyncRequest.Kind:
/// FullSync rewrites everything and swaps in new indexes; IncrementalSync (also the dual write)
/// pushes the subscribers the loads recorded as changed (table load_changes); a range holding a
/// load that replaced every subscriber (a fresh load) runs as a full sync.
public sealed class SyncEngine(NpgsqlDataSource db, IConnectionMultiplexer redis, RedisKeys keys, int database = -1)
{
    readonly SyncContext _context = new(db, redis, keys, database);

    internal SyncContext Context => _context;

    /// Runs a sync to its end (or records it as skipped when another holds the lock).
    /// <exception cref="SyncRequestException">the request names no load or an unparsable time.</exception>
    public async Task<SyncResult> RunAsync(SyncRequest request, IProgress<SyncProgress>? progress, CancellationToken ct)
    {
        await using var session = await BeginAsync(request, ct);
        if (session is null)
        {
            var message = "another sync is running";
            long? id = request.DryRun ? null : await SyncRuns.RecordSkippedAsync(db, request.Kind, request.Trigger, message, keys.Namespace, ct);
            return new SyncResult { RunId = id, Outcome = SyncOutcome.Skipped, Kind = request.Kind, Message = message };
        }
        return await session.ExecuteAsync(progress, ct);
    }

    /// Takes the lock and records the run, so a caller (the API) can answer with the run id
    /// before the work is done. Null when another sync holds the lock.
    public async Task<SyncSession?> BeginAsync(SyncRequest request, CancellationToken ct)
    {
        ChangesFrom? from = request.IsIncremental ? await ResolveFromAsync(request.ChangedSince, ct) : null;
        var lease = await SyncLock.TryAcquireAsync(db, keys.Namespace, ct);
        if (lease is null)
            return null;
        try
        {
            long? runId = null;
            DateTimeOffset started = DateTimeOffset.UtcNow;
            if (!request.DryRun)
            {
                await SyncRuns.MarkInterruptedAsync(db, keys.Namespace, ct);
                (runId, started) = await SyncRuns.StartAsync(db, request.Kind, request.Trigger, request.ChangedSince, keys.Namespace, ct);
            }
            return new SyncSession(_context, request, lease, runId, started, from);
        }
        catch
        {
            await lease.DisposeAsync();
            throw;
        }
    }

    // --changed-since: a load id (that load and every later one) or a time (the loads started at
    // or after it). Loads are serialised, so their ids follow their commits.
    async Task<ChangesFrom> ResolveFromAsync(string? text, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(text))
            throw new SyncRequestException("--changed-since needs a load id or an ISO 8601 time");
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var loadId))
        {
            await using var cmd = db.CreateCommand("SELECT started_at FROM data_loads WHERE id = @id");
            cmd.Parameters.AddWithValue("id", loadId);
            return await cmd.ExecuteScalarAsync(ct) is DateTime t
                ? new ChangesFrom(loadId, new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)))
                : throw new SyncRequestException($"--changed-since: no load with id {loadId} in data_loads");
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            await using var cmd = db.CreateCommand("SELECT min(id) FROM data_loads WHERE started_at >= @t");
            cmd.Parameters.AddWithValue("t", time.UtcDateTime);
            return new ChangesFrom(await cmd.ExecuteScalarAsync(ct) is long first ? first : long.MaxValue, time);
        }
        throw new SyncRequestException($"--changed-since: '{text}' is neither a load id nor an ISO 8601 time");
    }

    public sealed class SyncSession : IAsyncDisposable
    {
        readonly SyncContext _context;
        readonly SyncRequest _request;
        readonly SyncLock _lease;
        readonly ChangesFrom? _from;

        internal SyncSession(SyncContext context, SyncRequest request, SyncLock lease, long? runId, DateTimeOffset startedAt, ChangesFrom? from)
        {
            _context = context;
            _request = request;
            _lease = lease;
            RunId = runId;
            StartedAt = startedAt;
            _from = from;
        }

        public long? RunId { get; }
        public DateTimeOffset StartedAt { get; }

        public async Task<SyncResult> ExecuteAsync(IProgress<SyncProgress>? progress, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var whole = _from is { } start ? await ReplacedEverythingAsync(start.LoadId, ct) : null;
                var result = _from is { } from && whole is null
                    ? await new IncrementalSync(_context).RunAsync(_request, RunId ?? 0, from, clock, progress, ct)
                    : await new FullSync(_context).RunAsync(_request, RunId ?? 0, clock, progress, ct);
                if (whole is { } wholeLoad)
                    result = result with { Warnings = [$"load {wholeLoad} replaced every subscriber (a load into empty tables): ran a full sync", .. result.Warnings] };
                result = result with { RunId = RunId, Duration = clock.Elapsed };
                if (RunId is { } id)
                    await SyncRuns.FinishAsync(_context.Db, id, result, ct);
                return result;
            }
            catch (Exception ex)
            {
                if (RunId is { } id)
                {
                    var failed = new SyncResult
                    {
                        Outcome = SyncOutcome.Failed, Kind = _request.Kind, Duration = clock.Elapsed,
                        Message = ex is OperationCanceledException ? "cancelled" : ex.GetType().Name + ": " + ex.Message,
                    };
                    try { await SyncRuns.FinishAsync(_context.Db, id, failed, CancellationToken.None); }
                    catch (NpgsqlException) { /* the run stays 'running' until the next marks it; the original error matters more */ }
                }
                throw;
            }
        }

        // A fresh load's change set is every subscriber (LoadChanges.Everything).
        async Task<long?> ReplacedEverythingAsync(long first, CancellationToken ct)
        {
            await using var conn = await _context.Db.OpenConnectionAsync(ct);
            return await IncrementalSync.ReplacedEverythingAsync(conn, first, ct);
        }

        public ValueTask DisposeAsync() => _lease.DisposeAsync();
    }
}

/// Where an incremental sync starts: the first load whose changes it pushes, and the time shown.
readonly record struct ChangesFrom(long LoadId, DateTimeOffset Since);
