using System.Globalization;
using System.IO.Compression;
using System.Text;
using nietras.SeparatedValues;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// Reads an upstream CSV table (one file, gzip-compressed or not, or the part files of a
/// Spark folder) with Sep into the same typed columns as Parquet. The text is UTF-8 unless a
/// byte order mark or --encoding says otherwise, and is decoded strictly: a byte that is not
/// valid in the encoding stops the load naming the file and the line. Header row, RFC 4180
/// quoting, invariant numbers, dates as YYYY-MM-DD (or ISO timestamps, see
/// <see cref="CalendarDates"/>), JSON arrays as JSON text. An empty unquoted field is NULL; a
/// quoted empty field ("") is an empty string. A record whose field count differs from the
/// header's, an unterminated quoted field, or a last record without its line break (a cut
/// file) is rejected naming its row; CSV has no types, so a value that does not parse is a
/// row problem, not a file problem.
public static class CsvSource
{
    static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// Rows per batch handed to the caller.
    public const int BatchRows = 32_768;

    /// Reads the table's parts in order and hands each batch of rows to <paramref name="onBatch"/>
    /// (its <see cref="UpstreamTable.FirstRow"/> counts across the parts). Returns the row count.
    public static async Task<long> ReadAsync(IReadOnlyList<string> parts, string tableName, UpstreamFile file, LoadReadOptions options,
        Func<UpstreamTable, Task> onBatch, CancellationToken ct)
    {
        var batch = new Batch(file, tableName, options, onBatch);
        foreach (var part in parts)
        {
            var partName = parts.Count == 1 ? tableName : tableName + "/" + Path.GetFileName(part);
            await ReadPartAsync(part, partName, file, options, batch, ct);
        }
        await batch.FlushAsync();
        return batch.Rows;
    }

    /// The raw fields of the rows read since the last flush, and the problems found in them.
    sealed class Batch(UpstreamFile file, string tableName, LoadReadOptions options, Func<UpstreamTable, Task> onBatch)
    {
        public readonly List<string?>[] Raw = file.Columns.Select(_ => new List<string?>(BatchRows)).ToArray();
        public readonly List<CellError> Errors = [];
        long _first;

        /// Rows read so far, this batch's included.
        public long Rows => _first + Raw[0].Count;
        public int Count => Raw[0].Count;

        public async Task FlushAsync()
        {
            var rows = Raw[0].Count;
            if (rows == 0)
                return;
            var table = new UpstreamTable(file, tableName, rows, _first);
            table.CellErrors.AddRange(Errors);
            for (var c = 0; c < Raw.Length; c++)
                table.Set(file.Columns[c].Name, Convert(file.Columns[c], Raw[c], table, options));
            _first += rows;
            foreach (var column in Raw)
                column.Clear();
            Errors.Clear();
            await onBatch(table);
        }
    }

    static Stream OpenStream(string path)
    {
        Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(stream, CompressionMode.Decompress) : stream;
    }

    static async Task ReadPartAsync(string path, string partName, UpstreamFile file, LoadReadOptions options, Batch batch, CancellationToken ct)
    {
        var raw = batch.Raw;
        var errors = batch.Errors;
        var first = batch.Rows;
        var line = 1;
        try
        {
            if (options.CsvEncoding is null && LooksLikeUtf16(path))
                throw new LoadCheckException($"{partName}: looks like UTF-16 without a byte order mark (NUL bytes between the characters); save it as UTF-8, or pass --encoding utf-16");
            using var text = new TailReader(new StreamReader(OpenStream(path), options.CsvEncoding ?? StrictUtf8, true, 1 << 16));
            using var reader = Sep.New(options.CsvDelimiter).Reader(o => o with { HasHeader = false, DisableColCountCheck = true }).From(text);
            if (!reader.MoveNext())
                throw new LoadCheckException($"{partName}: the file is empty (no header row)");
            var header = Fields(reader.Current);
            CheckHeader(partName, header, options);
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < header.Length; i++)
                index.TryAdd(Unquote(header[i]).Value?.Trim() ?? "", i);
            var wanted = new int[file.Columns.Count];
            for (var c = 0; c < file.Columns.Count; c++)
            {
                if (!index.TryGetValue(file.Columns[c].Name, out wanted[c]))
                    throw new LoadCheckException($"{partName}: column '{file.Columns[c].Name}' is missing from the header");
            }

            var rows = first;
            var lastInBatch = -1;
            while (reader.MoveNext())
            {
                var record = reader.Current;
                line = record.LineNumberFrom;
                if (record.ColCount == 1 && record.Span.Length == 0)
                    continue; // a blank line, usually the last one
                // A record with the wrong field count is rejected, but its fields are still
                // read where they stand so its ISDN refuses the whole subscriber.
                var at = batch.Count;
                if (record.ColCount != header.Length)
                    errors.Add(new(at, "*", Clip(record.Span.ToString()),
                        $"has {record.ColCount} fields, the header has {header.Length} (line {record.LineNumberFrom} of {partName})"));
                for (var c = 0; c < raw.Length; c++)
                {
                    if (wanted[c] >= record.ColCount)
                    {
                        raw[c].Add(null);
                        continue;
                    }
                    var (value, closed) = Unquote(record[wanted[c]].Span);
                    if (!closed)
                        errors.Add(new(at, file.Columns[c].Name, Clip(value?.TrimEnd('\r', '\n')), $"a quoted field is not closed (line {record.LineNumberFrom} of {partName})"));
                    raw[c].Add(value);
                }
                rows++;
                lastInBatch = at;
                // The last record's check needs it still in the batch: flush one record late.
                if (batch.Count > BatchRows)
                {
                    ct.ThrowIfCancellationRequested();
                    await FlushAllButLastAsync(batch);
                    lastInBatch = 0;
                }
            }
            // Every writer ends a record with a line break; a file that stops without one was
            // cut, and its last record may have lost digits that still parse.
            if (rows > first && text.Last is not ('\n' or '\r'))
                errors.Add(new(lastInBatch, "*", null, $"the file ends inside this record (no line break after it): it may be cut off ({partName})"));
        }
        catch (DecoderFallbackException e)
        {
            throw new LoadCheckException(options.CsvEncoding is { } enc
                ? $"{partName}: not valid {enc.WebName} near line {line} (bytes {Hex(e.BytesUnknown)})"
                : $"{partName}: not valid UTF-8: {Utf8Problem(path)}; a file saved by Excel on Vietnamese Windows is windows-1258 (pass --encoding windows-1258)");
        }
        catch (InvalidDataException e)
        {
            throw new LoadCheckException($"{partName}: not a readable gzip file ({e.Message})");
        }
    }

    // UTF-16 text of mostly ASCII characters has a zero byte in every other place; UTF-8
    // text has none. With a byte order mark the reader decodes UTF-16 by itself.
    static bool LooksLikeUtf16(string path)
    {
        using var stream = OpenStream(path);
        var head = new byte[4096];
        var n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n >= 2 && ((head[0] == 0xFF && head[1] == 0xFE) || (head[0] == 0xFE && head[1] == 0xFF)))
            return false;
        return n > 0 && head.AsSpan(0, n).Count((byte)0) * 4 > n;
    }

    static async Task FlushAllButLastAsync(Batch batch)
    {
        var keep = batch.Raw.Select(c => c[^1]).ToArray();
        var keepErrors = batch.Errors.Where(e => e.Row == batch.Count - 1).ToArray();
        batch.Errors.RemoveAll(e => e.Row == batch.Count - 1);
        foreach (var column in batch.Raw)
            column.RemoveAt(column.Count - 1);
        await batch.FlushAsync();
        for (var c = 0; c < keep.Length; c++)
            batch.Raw[c].Add(keep[c]);
        batch.Errors.AddRange(keepErrors.Select(e => e with { Row = 0 }));
    }

    static string[] Fields(SepReader.Row row)
    {
        var fields = new string[row.ColCount];
        for (var i = 0; i < fields.Length; i++)
            fields[i] = row[i].ToString();
        return fields;
    }

    static void CheckHeader(string partName, string[] header, LoadReadOptions options)
    {
        var joined = string.Join(options.CsvDelimiter, header);
        if (joined.Contains('\0'))
            throw new LoadCheckException($"{partName}: the header holds NUL characters: the file looks like UTF-16 without a byte order mark (save it as UTF-8, or pass --encoding utf-16)");
        if (header.Length == 1)
        {
            foreach (var candidate in new[] { ';', '\t', '|', ',' })
            {
                if (candidate != options.CsvDelimiter && joined.Contains(candidate))
                {
                    var shown = candidate == '\t' ? "tab" : $"'{candidate}'";
                    throw new LoadCheckException($"{partName}: the header is one field holding {shown}: the separator looks like {shown}, not '{(options.CsvDelimiter == '\t' ? "tab" : options.CsvDelimiter)}' (pass --delimiter {(candidate == '\t' ? "tab" : candidate.ToString())})");
                }
            }
        }
    }

    /// An RFC 4180 field as it stands in the record: quoted ("" inside is one quote, and a
    /// quoted empty field is an empty string) or not (empty is NULL). Closed is false for a
    /// quoted field that runs to the end of the file.
    static (string? Value, bool Closed) Unquote(ReadOnlySpan<char> field)
    {
        if (field.Length == 0)
            return (null, true);
        if (field[0] != '"')
            return (field.ToString(), true);
        var closing = field.LastIndexOf('"');
        if (closing == 0)
            return (field[1..].ToString(), false);
        // Anything between the closing quote and the separator is kept, as lenient readers do.
        var inner = field[1..closing].ToString().Replace("\"\"", "\"", StringComparison.Ordinal);
        return (closing == field.Length - 1 ? inner : inner + field[(closing + 1)..].ToString(), true);
    }

    static string? Clip(string? s) => s is { Length: > 200 } ? s[..200] + "…" : s;

    static string Hex(byte[]? bytes) => bytes is null ? "?" : string.Join(' ', bytes.Select(b => "0x" + b.ToString("X2", CultureInfo.InvariantCulture)));

    /// Where the first invalid UTF-8 sequence is: line, byte offset and the bytes (the
    /// decoder's exception knows only its buffer, so the file is scanned again).
    static string Utf8Problem(string path)
    {
        using var stream = OpenStream(path);
        var buffer = new byte[1 << 16];
        int kept = 0, read;
        long offset = 0, line = 1;
        while ((read = stream.Read(buffer, kept, buffer.Length - kept)) > 0 || kept > 0)
        {
            var span = buffer.AsSpan(0, kept + read);
            var end = read == 0;
            var i = 0;
            while (i < span.Length)
            {
                var result = System.Text.Rune.DecodeFromUtf8(span[i..], out _, out var consumed);
                if (result == System.Buffers.OperationStatus.NeedMoreData && !end)
                    break;
                if (result != System.Buffers.OperationStatus.Done)
                    return $"line {line}, byte {offset + i} (bytes {Hex(span.Slice(i, Math.Min(consumed > 0 ? consumed : 1, span.Length - i)).ToArray())})";
                if (span[i] == (byte)'\n')
                    line++;
                i += consumed;
            }
            offset += i;
            kept = span.Length - i;
            span[i..].CopyTo(buffer);
            if (end)
                break;
        }
        return "position unknown";
    }

    static Array Convert(UpstreamColumn column, List<string?> values, UpstreamTable table, LoadReadOptions options)
    {
        var n = values.Count;
        switch (column.Kind)
        {
            case ColumnKind.Int:
            {
                // pandas writes a nullable integer column as float64: 1.0 is 1, 1.5 is no cluster.
                var a = new int?[n];
                for (var i = 0; i < n; i++)
                {
                    if (values[i] is not { } s) continue;
                    if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
                        && v == Math.Truncate(v) && v is >= int.MinValue and <= int.MaxValue)
                        a[i] = (int)v;
                    else
                        table.CellErrors.Add(new(i, column.Name, s, "not an integer"));
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
                    var (date, reason) = CalendarDates.Parse(s, options.TimeZone);
                    if (reason is null) a[i] = date;
                    else table.CellErrors.Add(new(i, column.Name, s, reason));
                }
                return a;
            }
            default:
                return values.ToArray();
        }
    }

    /// Remembers the last character read, so the reader can tell a file that ends with a line
    /// break from one cut inside its last record.
    sealed class TailReader(TextReader inner) : TextReader
    {
        public int Last { get; private set; } = -1;

        public override int Read(Span<char> buffer)
        {
            var n = inner.Read(buffer);
            if (n > 0) Last = buffer[n - 1];
            return n;
        }

        public override int Read(char[] buffer, int index, int count) => Read(buffer.AsSpan(index, count));

        public override int Read()
        {
            var c = inner.Read();
            if (c >= 0) Last = c;
            return c;
        }

        public override int Peek() => inner.Peek();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
