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
    /// Refuse the load (before commit) when it would delete more than this percentage of the
    /// live subscribers or of the live monthly rows. 100 allows any deletion.
    public double MaxDeletePercent { get; init; } = 5;
    /// The business time zone (IANA id): a Date column holding an instant means its calendar
    /// date here. Configuration key Load:TimeZone.
    public string TimeZone { get; init; } = DefaultTimeZone;
    /// The CSV files' encoding (an IANA/Windows name such as windows-1258 or utf-16);
    /// default: UTF-8, or what a byte order mark says.
    public string? CsvEncoding { get; init; }
    /// The CSV separator; default ','.
    public char? CsvDelimiter { get; init; }

    /// Return the changed and deleted ISDNs in the result (their counts are always there).
    public bool ReturnIsdns { get; init; } = true;

    public const string DefaultTimeZone = "Asia/Ho_Chi_Minh";
}

/// What the readers need of the options, resolved once: the time zone and the CSV dialect.
public sealed record LoadReadOptions(TimeZoneInfo TimeZone, System.Text.Encoding? CsvEncoding, char CsvDelimiter)
{
    public static LoadReadOptions From(LoadOptions options)
    {
        TimeZoneInfo zone;
        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(options.TimeZone);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new LoadCheckException($"time zone '{options.TimeZone}' (Load:TimeZone) is not known to this system");
        }
        System.Text.Encoding? encoding = null;
        if (options.CsvEncoding is { } name)
        {
            System.Text.Encoding.RegisterProvider(System.Text.CodePagesEncodingProvider.Instance);
            try
            {
                encoding = System.Text.Encoding.GetEncoding(name, System.Text.EncoderFallback.ExceptionFallback, System.Text.DecoderFallback.ExceptionFallback);
            }
            catch (ArgumentException)
            {
                throw new LoadCheckException($"encoding '{name}' is not known (examples: utf-8, windows-1258, utf-16)");
            }
        }
        return new(zone, encoding, options.CsvDelimiter ?? ',');
    }
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
    /// The most frequent reasons rows were rejected, most frequent first (at most 5).
    public IReadOnlyList<RejectCause> TopCauses { get; init; } = [];
    public IReadOnlySet<string> ChangedIsdns { get; init; } = new HashSet<string>();
    public IReadOnlySet<string> DeletedIsdns { get; init; } = new HashSet<string>();
    /// How many subscribers changed and were deleted (with or without the sets above).
    public int ChangedSubscribers { get; init; }
    public int DeletedSubscribers { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset FinishedAt { get; init; }
    public IReadOnlyList<(string Stage, TimeSpan Elapsed)> Timings { get; init; } = [];

    public int Inserted => Recommendations.Inserted + Profiles.Inserted + Monthly.Inserted;
    public int Updated => Recommendations.Updated + Profiles.Updated + Monthly.Updated;
    public int Deleted => Recommendations.Deleted + Profiles.Deleted + Monthly.Deleted;
}

/// Rows rejected for one reason in one column of one file.
public sealed record RejectCause(string File, string Column, string Reason, int Rows);

/// Progress of one stage: Done of Total units (rows, or 1 for a stage without a count).
public readonly record struct LoadProgress(string Stage, long Done, long Total);

/// The change sets loads record in load_changes (migration 0005) for the incremental sync and
/// the dual write: one row per subscriber a load inserted, updated or deleted, or the single
/// row <see cref="Everything"/> for a load that replaced every subscriber (a fresh load into
/// empty tables), which an incremental sync answers with a full sync.
public static class LoadChanges
{
    /// The ISDN of the marker row; never an ISDN (those are 24 base64 characters).
    public const string Everything = "*";
}
