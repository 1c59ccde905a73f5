using System.Globalization;
using Npgsql;

namespace Ut360.Data.Sync;

/// The first thing a sync does, before it reaches Redis: it takes the namespace's SyncLock and
/// writes its sync_runs row ('running'). A run killed at any later point, even while it is still
/// connecting to Redis, leaves that row, and the next sync (or `sync --history`) marks it
/// interrupted; a run that cannot reach Redis records itself failed with the reason (FailAsync).
/// A dry run takes the lock but writes no row. Disposing releases the lock.
public sealed class SyncClaim : IAsyncDisposable
{
    readonly NpgsqlDataSource _db;
    readonly SyncLock _lease;

    SyncClaim(NpgsqlDataSource db, SyncLock lease, SyncRequest request, long? runId, DateTimeOffset startedAt, ChangesFrom? from)
    {
        _db = db;
        _lease = lease;
        Request = request;
        RunId = runId;
        StartedAt = startedAt;
        From = from;
    }

    public SyncRequest Request { get; }

    /// The sync_runs id; null for a dry run.
    public long? RunId { get; }
    public DateTimeOffset StartedAt { get; }
    internal ChangesFrom? From { get; }

    /// Null when another sync of the namespace holds the lock, or when stillNeeded (asked once
    /// the lock is held, before any row is written) answers false.
    /// <exception cref="SyncRequestException">the request names no load or an unparsable time.</exception>
    public static async Task<SyncClaim?> TryTakeAsync(NpgsqlDataSource db, string ns, SyncRequest request, CancellationToken ct,
        Func<CancellationToken, Task<bool>>? stillNeeded = null)
    {
        ChangesFrom? from = request.IsIncremental ? await ResolveFromAsync(db, request.ChangedSince, ct) : null;
        var lease = await SyncLock.TryAcquireAsync(db, ns, ct);
        if (lease is null)
            return null;
        try
        {
            if (stillNeeded is not null && !await stillNeeded(ct))
            {
                await lease.DisposeAsync();
                return null;
            }
            long? runId = null;
            var started = DateTimeOffset.UtcNow;
            if (!request.DryRun)
            {
                await SyncRuns.MarkInterruptedAsync(db, ns, ct);
                (runId, started) = await SyncRuns.StartAsync(db, request.Kind, request.Trigger, request.ChangedSince, ns, ct);
            }
            return new SyncClaim(db, lease, request, runId, started, from);
        }
        catch
        {
            await lease.DisposeAsync();
            throw;
        }
    }

    /// Records a run that could not start because another holds the lock, so an operator reading
    /// the history sees why a scheduled run did nothing (no row for a dry run).
    public static async Task<SyncResult> RecordSkippedAsync(NpgsqlDataSource db, string ns, SyncRequest request, CancellationToken ct)
    {
        const string message = "another sync is running";
        long? id = request.DryRun ? null : await SyncRuns.RecordSkippedAsync(db, request.Kind, request.Trigger, message, ns, ct);
        return new SyncResult { RunId = id, Outcome = SyncOutcome.Skipped, Kind = request.Kind, Message = message };
    }

    /// Records the run as failed with the reason (e.g. Redis unreachable). A PostgreSQL error here
    /// is swallowed: the row stays 'running' until the next run marks it, and the caller's error
    /// matters more.
    public async Task FailAsync(string message, TimeSpan elapsed)
    {
        if (RunId is not { } id)
            return;
        var failed = new SyncResult { RunId = id, Outcome = SyncOutcome.Failed, Kind = Request.Kind, Duration = elapsed, Message = message };
        try
        {
            await SyncRuns.FinishAsync(_db, id, failed, CancellationToken.None);
        }
        catch (NpgsqlException)
        {
        }
    }

    // --changed-since: a load id (that load and every later one) or a time (the loads started at
    // or after it). Loads are serialised, so their ids follow their commits.
    static async Task<ChangesFrom> ResolveFromAsync(NpgsqlDataSource db, string? text, CancellationToken ct)
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

    public ValueTask DisposeAsync() => _lease.DisposeAsync();
}

/// Where an incremental sync starts: the first load whose changes it pushes, and the time shown.
readonly record struct ChangesFrom(long LoadId, DateTimeOffset Since);
