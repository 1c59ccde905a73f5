namespace Ut360.Data.Loading;

public enum LoadMode
{
    /// The files are the whole truth: subscribers absent from them disappear.
    Snapshot,
    /// The files are a partial set: their subscribers are inserted or updated, nothing deleted.
    Upsert,
}

public sealed record LoadOptions
{
    public required string Directory { get; init; }
    public LoadMode Mode { get; init; } = LoadMode.Snapshot;
    /// Refuse the load when more than this share of all rows is rejected.
    public double MaxRejectRate { get; init; } = 0.01;
    /// Where the rejects CSV goes; default: load.rejects.csv in the current directory.
    public string? RejectsFile { get; init; }
    /// Default: "sha-" and the first 12 hex digits of a hash over the files' sha256.
    public string? DataVersion { get; init; }
}

public enum LoadOutcome { Succeeded, Refused }

public sealed record SourceFile(string Name, string Sha256, long Bytes, int Rows);

public sealed record TableChanges(int Inserted, int Updated, int Deleted);

/// What a load did. ChangedIsdns are subscribers with any row inserted or changed (present
/// after the load), DeletedIsdns those removed; a dual write or an incremental sync acts on these.
public sealed record LoadResult
{
    public long LoadId { get; init; }
    public LoadOutcome Outcome { get; init; }
    public string? Message { get; init; }
    public required string DataVersion { get; init; }
    public LoadMode Mode { get; init; }
    public required string Format { get; init; }
    public required IReadOnlyList<SourceFile> Files { get; init; }
    public int RejectedRows { get; init; }
    public int RejectedSubscribers { get; init; }
    public string? RejectsFile { get; init; }
    public TableChanges Recommendations { get; init; } = new(0, 0, 0);
    public TableChanges Profiles { get; init; } = new(0, 0, 0);
    public TableChanges Monthly { get; init; } = new(0, 0, 0);
    public int StatsRows { get; init; }
    public IReadOnlySet<string> ChangedIsdns { get; init; } = new HashSet<string>();
    public IReadOnlySet<string> DeletedIsdns { get; init; } = new HashSet<string>();
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset FinishedAt { get; init; }
    public IReadOnlyList<(string Stage, TimeSpan Elapsed)> Timings { get; init; } = [];

    public int Inserted => Recommendations.Inserted + Profiles.Inserted + Monthly.Inserted;
    public int Updated => Recommendations.Updated + Profiles.Updated + Monthly.Updated;
    public int Deleted => Recommendations.Deleted + Profiles.Deleted + Monthly.Deleted;
}

/// Progress of one stage: Done of Total units (rows, or 1 for a stage without a count).
public readonly record struct LoadProgress(string Stage, long Done, long Total);
