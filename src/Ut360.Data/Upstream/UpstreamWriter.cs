using System.Globalization;
using System.Text;
using Parquet;
using Parquet.Schema;

namespace Ut360.Data.Upstream;

public enum UpstreamFileFormat
{
    Parquet,
    Csv,
}

/// Rows of one upstream file held column by column: one array per column, all of RowCount length.
/// Accepted arrays: Text and JsonArray → string?[]; Int → int[] or int?[]; Number → double[] or
/// double?[]; Date → DateOnly[] or DateOnly?[].
public sealed class UpstreamBatch
{
    readonly Array[] _columns;

    public UpstreamBatch(UpstreamFile file, int rowCount)
    {
        File = file;
        RowCount = rowCount;
        _columns = new Array[file.Columns.Count];
    }

    public UpstreamFile File { get; }
    public int RowCount { get; }

    public UpstreamBatch Set(string column, Array values)
    {
        var index = IndexOf(column);
        var kind = File.Columns[index].Kind;
        var ok = kind switch
        {
            ColumnKind.Text or ColumnKind.JsonArray => values is string[],
            ColumnKind.Int => values is int[] or int?[],
            ColumnKind.Number => values is double[] or double?[],
            ColumnKind.Date => values is DateOnly[] or DateOnly?[],
            _ => false,
        };
        if (!ok)
            throw new ArgumentException($"{File.Name}.{column}: a {kind} column cannot hold {values.GetType().Name}.", nameof(values));
        if (values.Length < RowCount)
            throw new ArgumentException($"{File.Name}.{column}: {values.Length} values for {RowCount} rows.", nameof(values));
        _columns[index] = values;
        return this;
    }

    public Array Get(string column) => _columns[IndexOf(column)];

    internal Array this[int index] =>
        _columns[index] ?? throw new InvalidOperationException($"{File.Name}.{File.Columns[index].Name} was not set.");

    int IndexOf(string column)
    {
        for (var i = 0; i < File.Columns.Count; i++)
            if (File.Columns[i].Name == column)
                return i;
        throw new ArgumentException($"{File.Name} has no column '{column}'.", nameof(column));
    }
}

/// Writes one upstream file, Parquet or CSV, in the physical layout docs/data-format.md states and
/// the loader reads: Text/JsonArray → UTF-8 string, Int → INT32, Number → DOUBLE, Date → DATE;
/// required columns non-nullable. Each WriteAsync call is one Parquet row group, so callers choose
/// the row-group size by the batches they pass (100k–250k rows keeps readers fast and memory low).
public sealed class UpstreamWriter : IAsyncDisposable
{
    /// Snappy is what pandas/pyarrow write by default and costs little CPU.
    static readonly ParquetOptions ParquetOptions = new()
    {
        CompressionMethod = CompressionMethod.Snappy,
        // Unique columns (isdn, texts) are detected from a sample instead of a full scan.
        DictionaryEncodingSampleSize = 1000,
    };

    readonly UpstreamFile _file;
    readonly Stream _stream;
    readonly ParquetWriter? _parquet;
    readonly DataField[]? _fields;
    readonly StreamWriter? _csv;

    UpstreamWriter(UpstreamFile file, Stream stream, ParquetWriter? parquet, DataField[]? fields, StreamWriter? csv)
    {
        _file = file;
        _stream = stream;
        _parquet = parquet;
        _fields = fields;
        _csv = csv;
    }

    public long RowsWritten { get; private set; }

    public static string FileName(UpstreamFile file, UpstreamFileFormat format) =>
        format == UpstreamFileFormat.Parquet ? file.ParquetFile : file.CsvFile;

    /// The Parquet schema of an upstream file: the one contract between generator and loader.
    public static ParquetSchema ParquetSchemaOf(UpstreamFile file) => new(file.Columns.Select(FieldOf).ToArray());

    public static DataField FieldOf(UpstreamColumn column) => column.Kind switch
    {
        ColumnKind.Text or ColumnKind.JsonArray => new DataField<string>(column.Name, !column.Required),
        ColumnKind.Int => column.Required ? new DataField<int>(column.Name) : new DataField<int?>(column.Name),
        ColumnKind.Number => column.Required ? new DataField<double>(column.Name) : new DataField<double?>(column.Name),
        ColumnKind.Date => column.Required ? new DataField<DateOnly>(column.Name) : new DataField<DateOnly?>(column.Name),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column.Kind, null),
    };

    public static async Task<UpstreamWriter> CreateAsync(UpstreamFile file, string path, UpstreamFileFormat format, CancellationToken ct = default)
    {
        var stream = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.None);
        try
        {
            return await CreateAsync(file, stream, format, ct);
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    /// The writer owns the stream and disposes it.
    public static async Task<UpstreamWriter> CreateAsync(UpstreamFile file, Stream stream, UpstreamFileFormat format, CancellationToken ct = default)
    {
        if (format == UpstreamFileFormat.Csv)
        {
            var csv = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16) { NewLine = "\n" };
            for (var i = 0; i < file.Columns.Count; i++)
            {
                if (i > 0)
                    csv.Write(',');
                csv.Write(file.Columns[i].Name);
            }
            csv.Write('\n');
            return new UpstreamWriter(file, stream, null, null, csv);
        }

        var schema = ParquetSchemaOf(file);
        var parquet = await ParquetWriter.CreateAsync(schema, stream, ParquetOptions, append: false, ct);
        return new UpstreamWriter(file, stream, parquet, schema.GetDataFields(), null);
    }

    /// Writes rows [offset, offset + count) of the batch (all rows by default).
    public async Task WriteAsync(UpstreamBatch batch, int offset = 0, int? count = null, CancellationToken ct = default)
    {
        if (batch.File != _file)
            throw new ArgumentException($"A batch of {batch.File.Name} cannot go into {_file.Name}.", nameof(batch));
        var n = count ?? batch.RowCount - offset;
        if (offset < 0 || n < 0 || offset + n > batch.RowCount)
            throw new ArgumentOutOfRangeException(nameof(count));
        if (n == 0)
            return;
        if (_csv is not null)
            WriteCsv(batch, offset, n);
        else
            await WriteRowGroupAsync(batch, offset, n, ct);
        RowsWritten += n;
    }

    async Task WriteRowGroupAsync(UpstreamBatch batch, int offset, int n, CancellationToken ct)
    {
        using var rowGroup = _parquet!.CreateRowGroup();
        for (var c = 0; c < _fields!.Length; c++)
        {
            var field = _fields[c];
            switch (batch[c])
            {
                case string[] s:
                    if (!field.IsNullable)
                        for (var i = offset; i < offset + n; i++)
                            if (s[i] is null)
                                throw new InvalidOperationException($"{_file.Name}.{field.Name}: row {i + 1} is null in a required column.");
                    await rowGroup.WriteAsync(field, new ArraySegment<string>(s, offset, n), null);
                    break;
                case int[] v:
                    await WriteValuesAsync(rowGroup, field, v, offset, n, ct);
                    break;
                case int?[] v:
                    await WriteNullableAsync(rowGroup, field, v, offset, n, ct);
                    break;
                case double[] v:
                    await WriteValuesAsync(rowGroup, field, v, offset, n, ct);
                    break;
                case double?[] v:
                    await WriteNullableAsync(rowGroup, field, v, offset, n, ct);
                    break;
                case DateOnly[] v:
                    await WriteValuesAsync(rowGroup, field, v, offset, n, ct);
                    break;
                case DateOnly?[] v:
                    await WriteNullableAsync(rowGroup, field, v, offset, n, ct);
                    break;
            }
        }
        rowGroup.CompleteValidate();
    }

    static Task WriteValuesAsync<T>(ParquetRowGroupWriter rowGroup, DataField field, T[] values, int offset, int n, CancellationToken ct)
        where T : struct
    {
        if (!field.IsNullable)
            return rowGroup.WriteAsync<T>(field, values.AsMemory(offset, n), null, null, ct);
        // An optional column with every value present: definition level 1 for each row, and the
        // values as they are (no copy into a T?[]).
        return rowGroup.WriteAllPartsAsync<T>(field, values.AsMemory(offset, n), AllDefined(n), null, ct);
    }

    static int[] _allDefined = [];

    static ReadOnlyMemory<int> AllDefined(int n)
    {
        var levels = Volatile.Read(ref _allDefined);
        if (levels.Length < n)
        {
            levels = new int[Math.Max(n, 262_144)];
            levels.AsSpan().Fill(1);
            Volatile.Write(ref _allDefined, levels); // a benign race: every array published here is all ones
        }
        return levels.AsMemory(0, n);
    }

    Task WriteNullableAsync<T>(ParquetRowGroupWriter rowGroup, DataField field, T?[] values, int offset, int n, CancellationToken ct)
        where T : struct
    {
        if (field.IsNullable)
            return rowGroup.WriteAsync<T>(field, values.AsMemory(offset, n), null, null, ct);
        var plain = new T[n];
        for (var i = 0; i < n; i++)
            plain[i] = values[offset + i] ?? throw new InvalidOperationException($"{_file.Name}.{field.Name}: row {offset + i + 1} is null in a required column.");
        return rowGroup.WriteAsync<T>(field, plain.AsMemory(), null, null, ct);
    }

    void WriteCsv(UpstreamBatch batch, int offset, int n)
    {
        var csv = _csv!;
        var columns = new Array[_file.Columns.Count];
        for (var c = 0; c < columns.Length; c++)
            columns[c] = batch[c];
        Span<char> buffer = stackalloc char[64];
        for (var i = offset; i < offset + n; i++)
        {
            for (var c = 0; c < columns.Length; c++)
            {
                if (c > 0)
                    csv.Write(',');
                switch (columns[c])
                {
                    case string[] s:
                        WriteCsvText(csv, s[i]);
                        break;
                    case int[] v:
                        WriteFormatted(csv, v[i], buffer, default);
                        break;
                    case int?[] v:
                        if (v[i] is { } iv)
                            WriteFormatted(csv, iv, buffer, default);
                        break;
                    case double[] v:
                        WriteNumber(csv, v[i], buffer);
                        break;
                    case double?[] v:
                        if (v[i] is { } dv)
                            WriteNumber(csv, dv, buffer);
                        break;
                    case DateOnly[] v:
                        WriteFormatted(csv, v[i], buffer, "yyyy-MM-dd");
                        break;
                    case DateOnly?[] v:
                        if (v[i] is { } d)
                            WriteFormatted(csv, d, buffer, "yyyy-MM-dd");
                        break;
                }
            }
            csv.Write('\n');
        }
    }

    static void WriteNumber(StreamWriter csv, double value, Span<char> buffer)
    {
        if (!double.IsFinite(value))
            throw new InvalidOperationException($"{value} cannot be written as an upstream number.");
        WriteFormatted(csv, value, buffer, default);
    }

    static void WriteFormatted<T>(StreamWriter csv, T value, Span<char> buffer, ReadOnlySpan<char> format) where T : ISpanFormattable
    {
        // Shortest round-trip form, invariant culture: 2757.5, -56.7, 25000.
        if (!value.TryFormat(buffer, out var written, format, CultureInfo.InvariantCulture))
            throw new InvalidOperationException($"Cannot format {value}.");
        csv.Write(buffer[..written]);
    }

    /// RFC 4180: a field with a comma, quote or line break is quoted, inner quotes doubled.
    /// An empty field is NULL; an empty string is written as "" so the two stay apart.
    static void WriteCsvText(StreamWriter csv, string? value)
    {
        if (value is null)
            return;
        if (value.Length == 0)
        {
            csv.Write("\"\"");
            return;
        }
        if (value.AsSpan().IndexOfAny(",\"\n\r") < 0)
        {
            csv.Write(value);
            return;
        }
        csv.Write('"');
        var span = value.AsSpan();
        int quote;
        while ((quote = span.IndexOf('"')) >= 0)
        {
            csv.Write(span[..(quote + 1)]);
            csv.Write('"');
            span = span[(quote + 1)..];
        }
        csv.Write(span);
        csv.Write('"');
    }

    public async ValueTask DisposeAsync()
    {
        if (_parquet is not null)
            await _parquet.DisposeAsync();
        if (_csv is not null)
            await _csv.DisposeAsync();
        await _stream.DisposeAsync();
    }
}
