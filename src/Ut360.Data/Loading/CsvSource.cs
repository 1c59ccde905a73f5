using System.Globalization;
using System.Text;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// Reads an upstream CSV file (UTF-8, header row, RFC 4180 quoting, invariant numbers,
/// YYYY-MM-DD dates, JSON arrays as JSON text) into the same typed columns as Parquet.
/// An empty unquoted field is NULL; a quoted empty field ("") is an empty string. CSV has no
/// types, so a value that does not parse is a row problem, not a file problem.
public static class CsvSource
{
    public static async Task<UpstreamTable> ReadAsync(string path, UpstreamFile file, Action<long>? rowsRead, CancellationToken ct)
    {
        var fileName = Path.GetFileName(path);
        using var reader = new StreamReader(path, new UTF8Encoding(false, true), true, 1 << 16);
        var parser = new Parser(reader);

        var header = parser.ReadRecord() ?? throw new LoadCheckException($"{fileName}: the file is empty (no header row)");
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < header.Count; i++)
            index.TryAdd((header[i] ?? "").Trim(), i);
        var wanted = new int[file.Columns.Count];
        for (var c = 0; c < file.Columns.Count; c++)
        {
            if (!index.TryGetValue(file.Columns[c].Name, out wanted[c]))
                throw new LoadCheckException($"{fileName}: column '{file.Columns[c].Name}' is missing from the header");
        }

        var raw = new List<string?>[file.Columns.Count];
        for (var c = 0; c < raw.Length; c++)
            raw[c] = new List<string?>(1024);
        var fieldCountErrors = new List<CellError>();
        var rows = 0;
        try
        {
            while (parser.ReadRecord() is { } record)
            {
                if (record.Count == 1 && record[0] is null)
                    continue; // a blank line, usually the last one
                if (record.Count != header.Count)
                    fieldCountErrors.Add(new(rows, "*", null, $"has {record.Count} fields, the header has {header.Count}"));
                for (var c = 0; c < raw.Length; c++)
                    raw[c].Add(wanted[c] < record.Count ? record[wanted[c]] : null);
                rows++;
                if ((rows & 0xFFFF) == 0)
                {
                    rowsRead?.Invoke(0x10000);
                    ct.ThrowIfCancellationRequested();
                }
            }
        }
        catch (DecoderFallbackException)
        {
            throw new LoadCheckException($"{fileName}: not valid UTF-8 (near data row {rows + 1})");
        }
        rowsRead?.Invoke(rows & 0xFFFF);

        var table = new UpstreamTable(file, fileName, rows);
        table.CellErrors.AddRange(fieldCountErrors);
        for (var c = 0; c < raw.Length; c++)
            table.Set(file.Columns[c].Name, Convert(file.Columns[c], raw[c], table));
        await Task.CompletedTask;
        return table;
    }

    static Array Convert(UpstreamColumn column, List<string?> values, UpstreamTable table)
    {
        var n = values.Count;
        switch (column.Kind)
        {
            case ColumnKind.Int:
            {
                var a = new int?[n];
                for (var i = 0; i < n; i++)
                {
                    if (values[i] is not { } s) continue;
                    if (int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)) a[i] = v;
                    else table.CellErrors.Add(new(i, column.Name, s, "not an integer"));
                }
                return a;
            }
            case ColumnKind.Number:
            {
                var a = new double?[n];
                for (var i = 0; i < n; i++)
                {
                    if (values[i] is not { } s) continue;
                    if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) a[i] = v;
                    else table.CellErrors.Add(new(i, column.Name, s, "not a number"));
                }
                return a;
            }
            case ColumnKind.Date:
            {
                var a = new DateOnly?[n];
                for (var i = 0; i < n; i++)
                {
                    if (values[i] is not { } s) continue;
                    if (DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var v)) a[i] = v;
                    else table.CellErrors.Add(new(i, column.Name, s, "not a date (YYYY-MM-DD)"));
                }
                return a;
            }
            default:
                return values.ToArray();
        }
    }

    /// A minimal RFC 4180 reader: fields separated by commas, optionally quoted with "",
    /// quotes doubled inside quoted fields, records ending in LF or CRLF (also inside quotes).
    sealed class Parser(TextReader reader)
    {
        readonly char[] _buffer = new char[1 << 16];
        int _pos, _len;
        readonly StringBuilder _field = new();
        readonly List<string?> _record = [];

        int Next()
        {
            if (_pos == _len)
            {
                _len = reader.Read(_buffer, 0, _buffer.Length);
                _pos = 0;
                if (_len == 0) return -1;
            }
            return _buffer[_pos++];
        }

        int Peek()
        {
            if (_pos == _len)
            {
                _len = reader.Read(_buffer, 0, _buffer.Length);
                _pos = 0;
                if (_len == 0) return -1;
            }
            return _buffer[_pos];
        }

        public List<string?>? ReadRecord()
        {
            _record.Clear();
            var ch = Peek();
            if (ch == -1) return null;
            while (true)
            {
                _field.Clear();
                var quoted = false;
                ch = Next();
                if (ch == '"')
                {
                    quoted = true;
                    while (true)
                    {
                        ch = Next();
                        if (ch == -1) break;
                        if (ch == '"')
                        {
                            if (Peek() == '"') { Next(); _field.Append('"'); continue; }
                            ch = Next();
                            break;
                        }
                        _field.Append((char)ch);
                    }
                    // Anything between the closing quote and the separator is kept, as lenient readers do.
                    while (ch != ',' && ch != '\n' && ch != -1)
                    {
                        if (ch != '\r') _field.Append((char)ch);
                        ch = Next();
                    }
                }
                else
                {
                    while (ch != ',' && ch != '\n' && ch != -1)
                    {
                        _field.Append((char)ch);
                        ch = Next();
                    }
                    if (_field.Length > 0 && _field[^1] == '\r') _field.Length--;
                }
                _record.Add(quoted || _field.Length > 0 ? _field.ToString() : null);
                if (ch != ',') return _record;
            }
        }
    }
}
