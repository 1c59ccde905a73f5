using System.Globalization;

namespace Ut360.Data.Loading;

/// The time-zone rule for Date columns (docs/data-format.md): a calendar date is taken as it
/// is; an instant (a UTC-adjusted timestamp, Spark's INT96, a CSV time with an offset) means
/// its calendar date in the business time zone; a wall-clock timestamp without a zone means
/// its own date. Either kind of timestamp must fall on a midnight, or the date is a guess.
static class CalendarDates
{
    /// The date an instant (UTC ticks) means in <paramref name="zone"/>, or the reason it means none.
    public static (DateOnly? Date, string? Reason) FromInstant(long utcTicks, TimeZoneInfo zone)
    {
        if (utcTicks < 0 || utcTicks > DateTime.MaxValue.Ticks)
            return (null, "timestamp out of range");
        var wall = TimeZoneInfo.ConvertTimeFromUtc(new DateTime(utcTicks, DateTimeKind.Utc), zone);
        return wall.TimeOfDay == TimeSpan.Zero
            ? (DateOnly.FromDateTime(wall), null)
            : (null, $"not a date: {wall.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} in {zone.Id} is not a midnight");
    }

    /// The date of a wall-clock timestamp (ticks since 0001-01-01, no zone), or why it has none.
    public static (DateOnly? Date, string? Reason) FromWallClock(long ticks)
    {
        if (ticks < 0 || ticks > DateTime.MaxValue.Ticks)
            return (null, "timestamp out of range");
        var wall = new DateTime(ticks, DateTimeKind.Unspecified);
        return wall.TimeOfDay == TimeSpan.Zero
            ? (DateOnly.FromDateTime(wall), null)
            : (null, $"not a date: {wall.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} is not a midnight");
    }

    static readonly string[] WallClockFormats =
    [
        "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm",
    ];

    static readonly string[] InstantFormats =
    [
        "yyyy-MM-dd HH:mm:sszzz", "yyyy-MM-dd'T'HH:mm:sszzz", "yyyy-MM-dd HH:mm:ss.FFFFFFFzzz", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz",
        "yyyy-MM-dd HH:mm:ssz", "yyyy-MM-dd'T'HH:mm:ssz", "yyyy-MM-dd HH:mm:ss.FFFFFFFz", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFz",
        "yyyy-MM-dd HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd HH:mm:ss.FFFFFFF'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'",
    ];

    /// CSV text: YYYY-MM-DD, or an ISO 8601 timestamp with or without an offset (what pandas
    /// writes for datetime64 and tz-aware columns).
    public static (DateOnly? Date, string? Reason) Parse(string s, TimeZoneInfo zone)
    {
        var inv = CultureInfo.InvariantCulture;
        if (DateOnly.TryParseExact(s, "yyyy-MM-dd", inv, DateTimeStyles.None, out var d))
            return (d, null);
        if (DateTimeOffset.TryParseExact(s, InstantFormats, inv, DateTimeStyles.AssumeUniversal, out var instant))
            return FromInstant(instant.UtcTicks, zone);
        if (DateTime.TryParseExact(s, WallClockFormats, inv, DateTimeStyles.None, out var wall))
            return FromWallClock(wall.Ticks);
        return (null, "not a date (YYYY-MM-DD)");
    }
}
