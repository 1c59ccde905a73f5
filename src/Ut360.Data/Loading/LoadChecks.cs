using System.Globalization;
using System.Text;
using System.Text.Json;
using Ut360.Data.Domain;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// One quarantined problem: the file, the 1-based data row (the header is not counted; in a
/// CSV without line breaks inside values, row N is line N+1), the column, the value as read
/// and why it was refused.
public sealed record RejectedRow(string File, int Row, string Column, string? Value, string Reason);

/// The row checks of a load, one batch of rows at a time, before a row is staged: they mark
/// each row accepted or rejected. The checks that need the whole data set (duplicate and
/// unknown ISDNs, and spreading a refusal to the subscriber's other rows) run in PostgreSQL
/// staging afterwards (<see cref="StagingChecks"/>). The unit of rejection is the subscriber: when any row of
/// a subscriber (its recommendation, its profile or one of its monthly rows) is refused, all its
/// rows are quarantined and its live data is kept as it was, so PostgreSQL never holds a
/// subscriber half from the old data and half from the new, and a bad row never deletes one.
public sealed class LoadChecks
{
    /// DECIMAL(precision, scale) of the target column, and the allowed range of the value.
    sealed record NumberRule(int Precision, int Scale, double? Min, double? Max);

    static readonly Dictionary<string, NumberRule> NumberRules = new(StringComparer.Ordinal)
    {
        ["advance_amount"] = new(12, 2, 0, null),
        ["revenue_per_advance"] = new(12, 2, 0, null),
        ["arpu_avg_6m"] = new(10, 2, 0, null),
        ["arpu_std_6m"] = new(10, 2, 0, null),
        ["arpu_min_6m"] = new(10, 2, 0, null),
        ["arpu_max_6m"] = new(10, 2, 0, null),
        ["arpu_first_month"] = new(10, 2, 0, null),
        ["arpu_last_month"] = new(10, 2, 0, null),
        ["arpu_growth_rate"] = new(10, 2, null, null),
        ["revenue_call_pct"] = new(5, 2, 0, 100),
        ["revenue_sms_pct"] = new(5, 2, 0, 100),
        ["revenue_data_pct"] = new(5, 2, 0, 100),
        ["topup_frequency"] = new(5, 2, 0, null),
        ["topup_avg_amount"] = new(10, 2, 0, null),
        ["topup_min_amount"] = new(10, 2, 0, null),
        ["topup_max_amount"] = new(10, 2, 0, null),
        ["topup_advance_ratio"] = new(10, 4, 0, null),
        ["customer_value_score"] = new(5, 2, 0, 100),
        ["advance_readiness_score"] = new(5, 2, 0, 100),
        ["risk_score"] = new(5, 2, 0, 100),
        ["priority_score"] = new(10, 2, 0, 100),
        ["revenue_potential"] = new(12, 2, 0, null),
        ["arpu_call"] = new(10, 2, 0, null),
        ["arpu_sms"] = new(10, 2, 0, null),
        ["arpu_data"] = new(10, 2, 0, null),
        ["arpu_total"] = new(10, 2, 0, null),
    };

    /// Amounts that are sums of money as handed over (advance and top-up denominations):
    /// whole VND, and at least 1,000 VND when not zero. A fractional or tiny value is a number
    /// written with the thousands separator of vi-VN (20.000 = 20,000) read as a decimal point.
    static readonly HashSet<string> WholeVndAmounts = new(StringComparer.Ordinal)
    {
        "advance_amount", "topup_avg_amount", "topup_min_amount", "topup_max_amount",
    };

    const double MinVndAmount = 1000;

    public static int ScaleOf(string column) => NumberRules[column].Scale;

    /// The value as PostgreSQL stores it in DECIMAL(p, s): rounded half away from zero, as
    /// numeric input does, so CSV text and Parquet doubles land identically.
    public static decimal ToNumeric(double value, int scale) =>
        Math.Round((decimal)value, scale, MidpointRounding.AwayFromZero);

    readonly List<RejectedRow> _problems;

    LoadChecks(List<RejectedRow> problems) => _problems = problems;

    /// Checks one batch of rows; returns which rows are rejected and adds their problems (rows
    /// numbered in the whole table) to <paramref name="problems"/>. Text is normalised to NFC
    /// in place.
    public static bool[] Check(UpstreamTable batch, List<RejectedRow> problems)
    {
        var checks = new LoadChecks(problems);
        var rejected = new bool[batch.Rows];
        checks.CheckCells(batch, rejected);
        if (batch.File == UpstreamFormat.Recommendations)
            checks.CheckRevenueWithinAdvance(batch, rejected);
        return rejected;
    }

    void Reject(UpstreamTable table, bool[] rejected, int row, string column, string? value, string reason)
    {
        rejected[row] = true;
        _problems.Add(new RejectedRow(table.FileName, checked((int)(table.FirstRow + row + 1)), column, value, reason));
    }

    void CheckCells(UpstreamTable table, bool[] rejected)
    {
        foreach (var e in table.CellErrors)
            Reject(table, rejected, e.Row, e.Column, e.Value, e.Reason);
        foreach (var column in table.File.Columns)
        {
            switch (column.Kind)
            {
                case ColumnKind.Text:
                    CheckText(table, rejected, column, table.Text(column.Name));
                    break;
                case ColumnKind.JsonArray:
                    CheckJson(table, rejected, column, table.Text(column.Name));
                    break;
                case ColumnKind.Number:
                    CheckNumbers(table, rejected, column, table.Number(column.Name));
                    break;
                case ColumnKind.Int:
                    CheckRequired(table, rejected, column, table.Int(column.Name));
                    break;
                case ColumnKind.Date:
                    CheckRequired(table, rejected, column, table.Date(column.Name));
                    break;
            }
        }
    }

    /// The operator's revenue from one advance is its fee, a share of the advance
    /// (docs/data-format.md: 30 %); more than the advance itself is a unit or column mix-up.
    void CheckRevenueWithinAdvance(UpstreamTable recs, bool[] rejected)
    {
        var advance = recs.Number("advance_amount");
        var revenue = recs.Number("revenue_per_advance");
        for (var i = 0; i < advance.Length; i++)
            if (!rejected[i] && advance[i] is { } a && revenue[i] is { } r && r > a)
                Reject(recs, rejected, i, "revenue_per_advance", r.ToString("R", CultureInfo.InvariantCulture),
                    $"more than the advance itself ({a.ToString("R", CultureInfo.InvariantCulture)} VND)");
    }

    public const string CascadeReason = "subscriber refused because of ";

    /// A reason without its row-specific tail ("(also row 5)", "(line 9 of …)"): what the top
    /// causes of a refusal group by.
    public static string ReasonKey(string reason)
    {
        foreach (var tail in new[] { " (also row ", " (line ", " (no line break" })
        {
            var i = reason.IndexOf(tail, StringComparison.Ordinal);
            if (i > 0) return reason[..i];
        }
        return reason;
    }

    void CheckRequired<T>(UpstreamTable table, bool[] rejected, UpstreamColumn column, T?[] values) where T : struct
    {
        if (!column.Required)
            return;
        var cellErrorRows = table.CellErrors.Where(e => e.Column == column.Name).Select(e => e.Row).ToHashSet();
        for (var i = 0; i < values.Length; i++)
            if (values[i] is null && !cellErrorRows.Contains(i))
                Reject(table, rejected, i, column.Name, null, "required value is missing");
    }

    static string[]? AllowedSet(string column) => column switch
    {
        "subscriber_type" => Vocabulary.SubscriberTypes,
        "service_type" => Vocabulary.ServiceTypes,
        "bad_debt_risk" => Vocabulary.RiskLevels,
        "arpu_trend" => Vocabulary.Trends,
        "user_type" => Vocabulary.UserTypes,
        "topup_frequency_class" => Vocabulary.TopupFrequencyClasses,
        _ => null,
    };

    // What pandas, Spark and SQL exports write for a missing value when they print it as text.
    static readonly string[] NullsAsText = ["None", "NULL", "null", "nan", "NaN", "NA", "<NA>", "NaT", "N/A", "#N/A"];

    void CheckText(UpstreamTable table, bool[] rejected, UpstreamColumn column, string?[] values)
    {
        var allowed = AllowedSet(column.Name);
        var isMonth = column.Name == "data_month";
        var isIsdn = column.Name == "isdn";
        var cellErrorRows = table.CellErrors.Where(e => e.Column == column.Name).Select(e => e.Row).ToHashSet();
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            if (v is null || (column.Required && v.Length == 0))
            {
                if (column.Required && !cellErrorRows.Contains(i))
                    Reject(table, rejected, i, column.Name, v, "required value is missing");
                continue;
            }
            // Stored in NFC, so that = 'Tăng trưởng' finds a label written decomposed.
            if (!v.IsNormalized())
                values[i] = v = v.Normalize();
            if (isIsdn)
            {
                if (IsdnProblem(v) is { } problem)
                    Reject(table, rejected, i, column.Name, v, problem);
            }
            else if (allowed is not null && Array.IndexOf(allowed, v) < 0)
                Reject(table, rejected, i, column.Name, v, Array.IndexOf(allowed, v.Trim()) >= 0
                    ? $"padded with spaces (a CHAR column?): not one of {string.Join(", ", allowed)} until trimmed"
                    : $"not one of {string.Join(", ", allowed)}");
            else if (isMonth && !IsMonth(v))
                Reject(table, rejected, i, column.Name, v, "not a month (YYYYMM)");
            else if (Array.IndexOf(NullsAsText, v) >= 0)
                Reject(table, rejected, i, column.Name, v, "a missing value written as text; write NULL (an empty CSV field) instead");
            else if (column.MaxLength is { } max && v.Length > max && CharCount(v) > max)
                Reject(table, rejected, i, column.Name, v, $"longer than {max} characters");
            else if (v.Contains('\0'))
                Reject(table, rejected, i, column.Name, v, "contains a NUL character");
        }
    }

    /// The design's ISDN: the base64 of one AES block (16 bytes), so 24 characters ending in
    /// "==". Anything else (spaces around it, a phone number in clear) would be a new,
    /// unfindable subscriber rather than the one it was meant to be.
    static string? IsdnProblem(string v)
    {
        if (v.Length > 0 && (char.IsWhiteSpace(v[0]) || char.IsWhiteSpace(v[^1])))
            return "has spaces around it (an ISDN is 24 base64 characters)";
        Span<byte> block = stackalloc byte[18];
        return v.Length == 24 && v.EndsWith("==", StringComparison.Ordinal) && Convert.TryFromBase64String(v, block, out var n) && n == 16
            ? null
            : "not an ISDN: 24 base64 characters (one AES block) expected";
    }

    static int CharCount(string s)
    {
        var n = 0;
        foreach (var _ in s.EnumerateRunes())
            n++;
        return n;
    }

    static bool IsMonth(string v) =>
        v.Length == 6 && v.All(char.IsAsciiDigit)
        && int.Parse(v.AsSpan(0, 4), CultureInfo.InvariantCulture) is >= 1900 and <= 2999
        && int.Parse(v.AsSpan(4, 2), CultureInfo.InvariantCulture) is >= 1 and <= 12;

    void CheckJson(UpstreamTable table, bool[] rejected, UpstreamColumn column, string?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            if (v is null)
            {
                if (column.Required)
                    Reject(table, rejected, i, column.Name, v, "required value is missing");
                continue;
            }
            if (!v.IsNormalized())
                values[i] = v = v.Normalize();
            if (!IsStringArray(v))
                Reject(table, rejected, i, column.Name, v, "not a JSON array of strings");
        }
    }

    static bool IsStringArray(string text)
    {
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                return false;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndArray)
                    return !reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                    return false;
                // PostgreSQL's jsonb refuses \u0000.
                if (reader.ValueIsEscaped && reader.GetString()!.Contains('\0'))
                    return false;
            }
            return false;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    void CheckNumbers(UpstreamTable table, bool[] rejected, UpstreamColumn column, double?[] values)
    {
        var rule = NumberRules[column.Name];
        var wholeVnd = WholeVndAmounts.Contains(column.Name);
        var limit = Math.Pow(10, rule.Precision - rule.Scale);
        var cellErrorRows = table.CellErrors.Where(e => e.Column == column.Name).Select(e => e.Row).ToHashSet();
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] is not { } v)
            {
                if (column.Required && !cellErrorRows.Contains(i))
                    Reject(table, rejected, i, column.Name, null, "required value is missing");
                continue;
            }
            string? reason = null;
            if (!double.IsFinite(v))
                reason = "not a finite number (NaN or Infinity)";
            else if (rule.Min is { } min && v < min)
                reason = min == 0 ? "negative" : $"below {min}";
            else if (rule.Max is { } max && v > max)
                reason = $"outside 0–{max}";
            else if (Math.Abs(v) >= limit || Math.Abs(ToNumeric(v, rule.Scale)) >= (decimal)limit)
                reason = $"too large for DECIMAL({rule.Precision},{rule.Scale})";
            else if (wholeVnd && v != Math.Truncate(v))
                reason = "not a whole number of VND (a vi-VN number such as 20.000 means 20,000; write it without separators)";
            else if (wholeVnd && v is > 0 and < MinVndAmount)
                reason = $"below {MinVndAmount:N0} VND, the smallest amount there is (a vi-VN 20.000 means 20,000; write it without separators)";
            if (reason is not null)
                Reject(table, rejected, i, column.Name, v.ToString("R", CultureInfo.InvariantCulture), reason);
        }
    }
}
