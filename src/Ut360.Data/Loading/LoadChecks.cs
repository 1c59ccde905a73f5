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

/// The row checks of a load. They run on the column arrays before anything is written and
/// mark each row accepted or rejected. The unit of rejection is the subscriber: when any row of
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

    public UpstreamTable Recommendations { get; }
    public UpstreamTable Profiles { get; }
    public UpstreamTable Monthly { get; }
    public bool[] RecRejected { get; }
    public bool[] ProfileRejected { get; }
    public bool[] MonthlyRejected { get; }
    public List<RejectedRow> Problems { get; } = [];
    /// ISDNs of subscribers refused as a whole; their live rows are kept as they were.
    public HashSet<string> RejectedSubscribers { get; } = new(StringComparer.Ordinal);
    public int RejectedRows { get; private set; }
    public int TotalRows => Recommendations.Rows + Profiles.Rows + Monthly.Rows;

    LoadChecks(UpstreamTable recs, UpstreamTable profiles, UpstreamTable monthly)
    {
        Recommendations = recs;
        Profiles = profiles;
        Monthly = monthly;
        RecRejected = new bool[recs.Rows];
        ProfileRejected = new bool[profiles.Rows];
        MonthlyRejected = new bool[monthly.Rows];
    }

    public static LoadChecks Run(UpstreamTable recs, UpstreamTable profiles, UpstreamTable monthly)
    {
        var checks = new LoadChecks(recs, profiles, monthly);
        checks.CheckCells(recs, checks.RecRejected);
        checks.CheckRevenueWithinAdvance();
        checks.CheckCells(profiles, checks.ProfileRejected);
        checks.CheckCells(monthly, checks.MonthlyRejected);
        checks.CheckKeys();
        checks.Cascade();
        checks.RejectedRows = Count(checks.RecRejected) + Count(checks.ProfileRejected) + Count(checks.MonthlyRejected);
        return checks;
    }

    static int Count(bool[] flags)
    {
        var n = 0;
        foreach (var f in flags)
            if (f) n++;
        return n;
    }

    void Reject(UpstreamTable table, bool[] rejected, int row, string column, string? value, string reason)
    {
        rejected[row] = true;
        Problems.Add(new RejectedRow(table.FileName, row + 1, column, value, reason));
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
    void CheckRevenueWithinAdvance()
    {
        var advance = Recommendations.Number("advance_amount");
        var revenue = Recommendations.Number("revenue_per_advance");
        for (var i = 0; i < advance.Length; i++)
            if (!RecRejected[i] && advance[i] is { } a && revenue[i] is { } r && r > a)
                Reject(Recommendations, RecRejected, i, "revenue_per_advance", r.ToString("R", CultureInfo.InvariantCulture),
                    $"more than the advance itself ({a.ToString("R", CultureInfo.InvariantCulture)} VND)");
    }

    /// The most frequent reasons, most frequent first: what a refusal prints on the console.
    /// Rows refused only because another row of their subscriber was are left out, and the
    /// row-specific tail of a reason ("(also row 5)", "(line 9 of …)") is not part of it.
    public IReadOnlyList<RejectCause> TopCauses(int count) => Problems
        .Where(p => !p.Reason.StartsWith(CascadeReason, StringComparison.Ordinal))
        .GroupBy(p => (p.File, p.Column, Reason: ReasonKey(p.Reason)))
        .Select(g => new RejectCause(g.Key.File, g.Key.Column, g.Key.Reason, g.Count()))
        .OrderByDescending(c => c.Rows).ThenBy(c => c.File, StringComparer.Ordinal).ThenBy(c => c.Column, StringComparer.Ordinal)
        .Take(count)
        .ToList();

    const string CascadeReason = "subscriber refused because of ";

    static string ReasonKey(string reason)
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

    Dictionary<string, int> _recRowByIsdn = new(StringComparer.Ordinal);

    void CheckKeys()
    {
        var recIsdn = Recommendations.Text("isdn");
        _recRowByIsdn = new Dictionary<string, int>(recIsdn.Length, StringComparer.Ordinal);
        var dupRec = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < recIsdn.Length; i++)
        {
            if (recIsdn[i] is not { Length: > 0 } isdn) continue;
            if (!_recRowByIsdn.TryAdd(isdn, i))
                dupRec.Add(isdn);
        }
        if (dupRec.Count > 0)
        {
            for (var i = 0; i < recIsdn.Length; i++)
                if (recIsdn[i] is { } isdn && dupRec.Contains(isdn))
                    Reject(Recommendations, RecRejected, i, "isdn", isdn, "duplicate ISDN");
        }

        var profIsdn = Profiles.Text("isdn");
        var seenProfile = new Dictionary<string, int>(profIsdn.Length, StringComparer.Ordinal);
        var dupProfile = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < profIsdn.Length; i++)
        {
            if (profIsdn[i] is not { Length: > 0 } isdn) continue;
            if (!_recRowByIsdn.ContainsKey(isdn))
                Reject(Profiles, ProfileRejected, i, "isdn", isdn, "unknown ISDN: no row in recommendations");
            else if (!seenProfile.TryAdd(isdn, i))
                dupProfile.Add(isdn);
        }
        if (dupProfile.Count > 0)
        {
            for (var i = 0; i < profIsdn.Length; i++)
                if (profIsdn[i] is { } isdn && dupProfile.Contains(isdn))
                    Reject(Profiles, ProfileRejected, i, "isdn", isdn, "duplicate ISDN");
        }

        var monIsdn = Monthly.Text("isdn");
        var monMonth = Monthly.Text("data_month");
        var seenMonth = new Dictionary<(string, string), int>(monIsdn.Length);
        List<int>? dupRows = null;
        for (var i = 0; i < monIsdn.Length; i++)
        {
            if (monIsdn[i] is not { Length: > 0 } isdn) continue;
            if (!_recRowByIsdn.ContainsKey(isdn))
            {
                Reject(Monthly, MonthlyRejected, i, "isdn", isdn, "unknown ISDN: no row in recommendations");
                continue;
            }
            if (monMonth[i] is not { } month) continue;
            if (!seenMonth.TryAdd((isdn, month), i))
                (dupRows ??= []).Add(i);
        }
        if (dupRows is not null)
        {
            var firstRows = new HashSet<int>();
            foreach (var i in dupRows)
            {
                var first = seenMonth[(monIsdn[i]!, monMonth[i]!)];
                Reject(Monthly, MonthlyRejected, i, "data_month", monMonth[i], $"duplicate month for this ISDN (also row {first + 1})");
                if (firstRows.Add(first))
                    Reject(Monthly, MonthlyRejected, first, "data_month", monMonth[first], $"duplicate month for this ISDN (also row {i + 1})");
            }
        }
    }

    /// Spreads a refusal to every row of the same subscriber (see the class comment).
    void Cascade()
    {
        var firstProblem = new Dictionary<string, string>(StringComparer.Ordinal);
        void Collect(UpstreamTable table, bool[] rejected)
        {
            var isdn = table.Text("isdn");
            for (var i = 0; i < rejected.Length; i++)
                if (rejected[i] && isdn[i] is { Length: > 0 } s && _recRowByIsdn.ContainsKey(s))
                    firstProblem.TryAdd(s, $"{table.FileName} row {i + 1}");
        }
        Collect(Recommendations, RecRejected);
        Collect(Profiles, ProfileRejected);
        Collect(Monthly, MonthlyRejected);
        if (firstProblem.Count == 0)
            return;
        RejectedSubscribers.UnionWith(firstProblem.Keys);

        void Spread(UpstreamTable table, bool[] rejected)
        {
            var isdn = table.Text("isdn");
            for (var i = 0; i < rejected.Length; i++)
                if (!rejected[i] && isdn[i] is { } s && firstProblem.TryGetValue(s, out var where))
                    Reject(table, rejected, i, "isdn", s, CascadeReason + where);
        }
        Spread(Recommendations, RecRejected);
        Spread(Profiles, ProfileRejected);
        Spread(Monthly, MonthlyRejected);
    }

    public async Task WriteRejectsAsync(string path, CancellationToken ct)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
            Directory.CreateDirectory(dir);
        await using var writer = new StreamWriter(path, false, new UTF8Encoding(false));
        await writer.WriteLineAsync("file,row,column,value,reason".AsMemory(), ct);
        foreach (var p in Problems.OrderBy(p => p.File, StringComparer.Ordinal).ThenBy(p => p.Row))
        {
            await writer.WriteLineAsync(string.Join(',', Csv(p.File), p.Row.ToString(CultureInfo.InvariantCulture),
                Csv(p.Column), Csv(p.Value), Csv(p.Reason)).AsMemory(), ct);
        }
    }

    static string Csv(string? value)
    {
        if (value is null)
            return "";
        if (value.Length > 200)
            value = value[..200] + "…";
        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || value.Length == 0
            ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : value;
    }
}
