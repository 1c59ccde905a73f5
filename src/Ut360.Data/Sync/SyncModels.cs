namespace Ut360.Data.Sync;

public static class SyncKind
{
    public const string Full = "full";
    public const string Incremental = "incremental";
    public const string DualWrite = "dual-write";
}

public static class SyncOutcome
{
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Skipped = "skipped";
    public const string DryRun = "dry-run";

    /// A run whose process died before recording an outcome, found by the next sync.
    public const string Interrupted = "interrupted";
}

public sealed record SyncRequest
{
    public string Kind { get; init; } = SyncKind.Full;
    public string Trigger { get; init; } = "cli";

    /// For incremental and dual-write runs: a data_loads id ("42") or an ISO 8601 time.
    public string? ChangedSince { get; init; }

    /// Reports what would change without writing to Redis (and without a sync_runs row).
    public bool DryRun { get; init; }

    public bool IsIncremental => Kind != SyncKind.Full;
}

public sealed record SyncProgress(string Phase, long Done, long Total);

public sealed record SyncResult
{
    public long? RunId { get; init; }
    public string Outcome { get; init; } = SyncOutcome.Succeeded;
    public string Kind { get; init; } = SyncKind.Full;
    public string? DataVersion { get; init; }
    public DateTimeOffset? ChangedSince { get; init; }

    /// Subscribers pushed (all of them for a full sync, the changed ones otherwise).
    public int Subscribers { get; init; }
    public int Profiles { get; init; }
    public long KeysWritten { get; init; }
    public long KeysDeleted { get; init; }
    public int SubscribersAdded { get; init; }
    public int SubscribersRemoved { get; init; }

    /// Subscribers whose service, risk or cluster index changed.
    public int IndexMoves { get; init; }
    public TimeSpan Duration { get; init; }
    public long? UsedMemory { get; init; }
    public long? TotalSubscribersInRedis { get; init; }
    public double? BytesPerSubscriber => UsedMemory is { } m && TotalSubscribersInRedis is > 0 and { } n ? (double)m / n : null;
    public string? Message { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// Elapsed time at the end of each phase (and of each PostgreSQL stream), for the summary.
    public IReadOnlyList<(string Phase, TimeSpan At)> Timings { get; init; } = [];
    public IReadOnlyDictionary<string, long> IndexCounts { get; init; } = new Dictionary<string, long>();
}

/// Thrown for a request that cannot run (an unknown load id, a time that does not parse).
public sealed class SyncRequestException(string message) : Exception(message);
