using System.Diagnostics;
using Npgsql;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// Fills Redis from PostgreSQL with the layout of design section 2.2 (A–F) and keeps it fresh.
/// Used by `ut360 sync`, `ut360 load --dual-write`, the scheduler and POST /api/v1/admin/sync.
/// This class holds what every mode shares: one sync at a time per namespace (SyncClaim: the
/// lock and the sync_runs record), the outcome. The caller picks the mode with SyncRequest.Kind:
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
            return await SyncClaim.RecordSkippedAsync(db, keys.Namespace, request, ct);
        return await session.ExecuteAsync(progress, ct);
    }

    /// Takes the lock and records the run, so a caller (the API) can answer with the run id
    /// before the work is done. Null when another sync holds the lock, or when stillNeeded
    /// (asked once the lock is held) says another instance has done the work meanwhile.
    public async Task<SyncSession?> BeginAsync(SyncRequest request, CancellationToken ct, Func<CancellationToken, Task<bool>>? stillNeeded = null)
    {
        var claim = await SyncClaim.TryTakeAsync(db, keys.Namespace, request, ct, stillNeeded);
        return claim is null ? null : Start(claim);
    }

    /// The run a SyncClaim recorded, carried out on this engine's Redis. The session owns the
    /// claim from here (disposing it releases the lock).
    public SyncSession Start(SyncClaim claim) => new(_context, claim);

    public sealed class SyncSession : IAsyncDisposable
    {
        readonly SyncContext _context;
        readonly SyncClaim _claim;

        internal SyncSession(SyncContext context, SyncClaim claim)
        {
            _context = context;
            _claim = claim;
        }

        public long? RunId => _claim.RunId;
        public DateTimeOffset StartedAt => _claim.StartedAt;

        public async Task<SyncResult> ExecuteAsync(IProgress<SyncProgress>? progress, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            var request = _claim.Request;
            try
            {
                var whole = _claim.From is { } start ? await ReplacedEverythingAsync(start.LoadId, ct) : null;
                var result = _claim.From is { } from && whole is null
                    ? await new IncrementalSync(_context).RunAsync(request, RunId ?? 0, from, clock, progress, ct)
                    : await new FullSync(_context).RunAsync(request, RunId ?? 0, clock, progress, ct);
                if (whole is { } wholeLoad)
                    result = result with { Warnings = [$"load {wholeLoad} replaced every subscriber (a load into empty tables): ran a full sync", .. result.Warnings] };
                result = result with { RunId = RunId, Duration = clock.Elapsed };
                if (RunId is { } id)
                    await SyncRuns.FinishAsync(_context.Db, id, result, ct);
                return result;
            }
            catch (Exception ex)
            {
                await _claim.FailAsync(ex is OperationCanceledException ? "cancelled" : ex.GetType().Name + ": " + ex.Message, clock.Elapsed);
                throw;
            }
        }

        // A fresh load's change set is every subscriber (LoadChanges.Everything).
        async Task<long?> ReplacedEverythingAsync(long first, CancellationToken ct)
        {
            await using var conn = await _context.Db.OpenConnectionAsync(ct);
            return await IncrementalSync.ReplacedEverythingAsync(conn, first, ct);
        }

        public ValueTask DisposeAsync() => _claim.DisposeAsync();
    }
}
