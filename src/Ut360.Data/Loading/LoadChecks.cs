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
        _ => null,
    };

    void CheckText(UpstreamTable table, bool[] rejected, UpstreamColumn column, string?[] values)
    {
        var allowed = AllowedSet(column.Name);
        var isMonth = column.Name == "data_month";
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            if (v is null || (column.Required && v.Length == 0))
            {
                if (column.Required)
                    Reject(table, rejected, i, column.Name, v, "required value is missing");
                continue;
            }
            if (allowed is not null && Array.IndexOf(allowed, v) < 0)
                Reject(table, rejected, i, column.Name, v, $"not one of {string.Join(", ", allowed)}");
            else if (isMonth && !IsMonth(v))
                Reject(table, rejected, i, column.Name, v, "not a month (YYYYMM)");
            else if (column.MaxLength is { } max && v.Length > max && CharCount(v) > max)
                Reject(table, rejected, i, column.Name, v, $"longer than {max} characters");
            else if (v.Contains('\0'))
                Reject(table, rejected, i, column.Name, v, "contains a NUL character");
        }
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
                    Reject(table, rejected, i, "isdn", s, $"subscriber refused because of {where}");
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
