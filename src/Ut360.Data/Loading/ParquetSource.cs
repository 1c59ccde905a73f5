using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using ParquetSharp;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// Reads an upstream Parquet table (one file, or the part files of a Spark/Hive folder, in
/// name order) column by column into typed arrays, with ParquetSharp (the Arrow C++ reader:
/// every encoding, page version and codec the format defines, DELTA_BINARY_PACKED decimals in
/// V2 pages included). Accepted physical/logical types per kind are listed in
/// docs/data-format.md. A type outside that list, a damaged page or an unreadable footer stops
/// the load with a <see cref="LoadCheckException"/> naming the file, the column and the row
/// group; a value that cannot mean what the column means (1.5 as a cluster, invalid UTF-8, a
/// timestamp that is not a midnight) is a cell error that rejects its row.
public static class ParquetSource
{
    static readonly UTF8Encoding StrictUtf8 = new(false, true);

    // The JSON text a LIST<STRING> becomes: as readable as the generator's own.
    static readonly JsonSerializerOptions ListJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// One upstream column mapped to the leaf column of the file that carries it.
    sealed record Plan(UpstreamColumn Column, int Leaf, ColumnDescriptor Descriptor, bool IsList);

    /// Rows per batch handed to the caller: a row group is read in slices of this many rows,
    /// so memory holds one slice, not a file (a profiles row group of 214,504 rows is ~300 MB
    /// of text as .NET strings).
    public const int BatchRows = 32_768;

    /// Reads the table's parts in order and hands each slice of rows to <paramref name="onBatch"/>
    /// (its <see cref="UpstreamTable.FirstRow"/> counts across the parts). Returns the row count.
    public static async Task<long> ReadAsync(IReadOnlyList<string> parts, string tableName, UpstreamFile file, LoadReadOptions options,
        Func<UpstreamTable, Task> onBatch, CancellationToken ct)
    {
        long offset = 0;
        foreach (var part in parts)
        {
            var partName = parts.Count == 1 ? tableName : tableName + "/" + Path.GetFileName(part);
            ParquetFileReader reader;
            try
            {
                reader = new ParquetFileReader(part, ReaderProperties());
            }
            catch (ParquetException e)
            {
                throw new LoadCheckException($"{partName}: not a readable Parquet file ({Short(e)})");
            }
            using (reader)
                offset = await ReadPartAsync(reader, partName, tableName, file, offset, options, onBatch, ct);
        }
        return offset;
    }

    // Buffered: a column is read a page at a time instead of a whole column chunk into memory
    // per column (a row group's text columns would be hundreds of MB at once).
    static ReaderProperties ReaderProperties()
    {
        var properties = ParquetSharp.ReaderProperties.GetDefaultReaderProperties();
        properties.EnableBufferedStream();
        properties.BufferSize = 1 << 20;
        return properties;
    }

    sealed class Cursor(ColumnReader reader) : IDisposable
    {
        LogicalColumnReader? _logical;
        public ColumnReader Reader { get; } = reader;

        // One logical reader per column and row group: it buffers ahead, so a new one per
        // slice would lose the values the previous one had buffered.
        public LogicalColumnReader<T> Logical<T>() => (LogicalColumnReader<T>)(_logical ??= Reader.LogicalReader<T>());

        public void Dispose()
        {
            _logical?.Dispose();
            Reader.Dispose();
        }
    }

    static async Task<long> ReadPartAsync(ParquetFileReader reader, string partName, string tableName, UpstreamFile file, long offset,
        LoadReadOptions options, Func<UpstreamTable, Task> onBatch, CancellationToken ct)
    {
        List<Plan> plans;
        int groups;
        try
        {
            plans = Map(reader.FileMetaData.Schema, partName, file);
            groups = reader.FileMetaData.NumRowGroups;
        }
        catch (ParquetException e)
        {
            throw new LoadCheckException($"{partName}: not a readable Parquet file ({Short(e)})");
        }
        for (var g = 0; g < groups; g++)
        {
            using var group = reader.RowGroup(g);
            var n = group.MetaData.NumRows;
            var cursors = new List<Cursor>(plans.Count);
            try
            {
                foreach (var plan in plans)
                    cursors.Add(new Cursor(group.Column(plan.Leaf)));
                for (long start = 0; start < n; start += BatchRows)
                {
                    ct.ThrowIfCancellationRequested();
                    var rows = (int)Math.Min(BatchRows, n - start);
                    var table = new UpstreamTable(file, tableName, rows, offset + start);
                    for (var c = 0; c < plans.Count; c++)
                    {
                        var target = Allocate(plans[c].Column.Kind, rows);
                        try
                        {
                            ReadColumn(cursors[c], plans[c], target, rows, table, options);
                        }
                        catch (Exception e) when (e is ParquetException or OverflowException or InvalidDataException or IndexOutOfRangeException
                                                      or ArgumentException or InvalidCastException or NotSupportedException)
                        {
                            throw new LoadCheckException(
                                $"{partName}: column '{plans[c].Column.Name}', row group {g} (rows {offset + 1}–{offset + n}): cannot be read ({Short(e)})");
                        }
                        table.Set(plans[c].Column.Name, target);
                    }
                    await onBatch(table);
                }
            }
            catch (ParquetException e)
            {
                throw new LoadCheckException($"{partName}: row group {g} (rows {offset + 1}–{offset + n}): cannot be read ({Short(e)})");
            }
            finally
            {
                foreach (var cursor in cursors)
                    cursor.Dispose();
            }
            offset += n;
        }
        return offset;
    }

    /// Finds each upstream column among the file's leaf columns: a top-level primitive, or
    /// the element of a top-level LIST (three-level or legacy two-level) for a JSON-array kind.
    static List<Plan> Map(SchemaDescriptor schema, string partName, UpstreamFile file)
    {
        var leaves = new Dictionary<string, (int Leaf, ColumnDescriptor Descriptor, bool IsList)>(StringComparer.Ordinal);
        for (var i = 0; i < schema.NumColumns; i++)
        {
            var d = schema.Column(i);
            var path = d.Path.ToDotVector();
            if (path.Length == 1 && d.MaxRepetitionLevel == 0)
                leaves.TryAdd(path[0], (i, d, false));
            else if (path.Length is 2 or 3 && d.MaxRepetitionLevel == 1)
                leaves.TryAdd(path[0], (i, d, true));
        }
        var plans = new List<Plan>(file.Columns.Count);
        foreach (var column in file.Columns)
        {
            if (!leaves.TryGetValue(column.Name, out var leaf))
                throw new LoadCheckException($"{partName}: column '{column.Name}' is missing");
            var plan = new Plan(column, leaf.Leaf, leaf.Descriptor, leaf.IsList);
            if (!Accepts(plan))
                throw new LoadCheckException(
                    $"{partName}: column '{column.Name}' has type {Describe(plan)}, expected {Expected(column)}");
            plans.Add(plan);
        }
        return plans;
    }

    static Array Allocate(ColumnKind kind, int rows) => kind switch
    {
        ColumnKind.Int => new int?[rows],
        ColumnKind.Number => new double?[rows],
        ColumnKind.Date => new DateOnly?[rows],
        _ => new string?[rows],
    };

    static bool IsString(ColumnDescriptor d) =>
        d.PhysicalType == PhysicalType.ByteArray && d.LogicalType is StringLogicalType or JsonLogicalType or EnumLogicalType;

    static bool IsInteger(ColumnDescriptor d) =>
        d.PhysicalType is PhysicalType.Int32 or PhysicalType.Int64 && d.LogicalType is NoneLogicalType or IntLogicalType;

    static bool IsDecimal(ColumnDescriptor d) => d.LogicalType is DecimalLogicalType;

    static bool IsFloating(ColumnDescriptor d) => d.PhysicalType is PhysicalType.Double or PhysicalType.Float;

    static bool Accepts(Plan p)
    {
        var d = p.Descriptor;
        if (p.IsList)
            return p.Column.Kind == ColumnKind.JsonArray && IsString(d);
        return p.Column.Kind switch
        {
            ColumnKind.Text when p.Column.Name == "data_month" => IsString(d) || IsInteger(d),
            ColumnKind.Text or ColumnKind.JsonArray => IsString(d),
            ColumnKind.Int => IsInteger(d) || IsFloating(d) || (IsDecimal(d) && d.TypeScale == 0),
            ColumnKind.Number => IsInteger(d) || IsFloating(d) || IsDecimal(d),
            ColumnKind.Date => d.LogicalType is DateLogicalType or TimestampLogicalType || d.PhysicalType == PhysicalType.Int96,
            _ => false,
        };
    }

    static string Expected(UpstreamColumn column) => column.Kind switch
    {
        ColumnKind.Text when column.Name == "data_month" => "STRING (BYTE_ARRAY UTF8) or INT32/INT64 holding YYYYMM",
        ColumnKind.Text => "STRING (BYTE_ARRAY UTF8)",
        ColumnKind.JsonArray => "STRING (BYTE_ARRAY UTF8) holding a JSON array, or LIST<STRING>",
        ColumnKind.Int => "INT32 (or INT64, or an integral DOUBLE/FLOAT/DECIMAL(p,0))",
        ColumnKind.Number => "DOUBLE (or FLOAT, INT32, INT64, DECIMAL)",
        ColumnKind.Date => "DATE (or TIMESTAMP, INT96)",
        _ => column.Kind.ToString(),
    };

    /// The column's type in Parquet's own terms: physical type, and the logical type if any.
    static string Describe(Plan p)
    {
        var d = p.Descriptor;
        var physical = d.PhysicalType switch
        {
            PhysicalType.ByteArray => "BYTE_ARRAY",
            PhysicalType.FixedLenByteArray => $"FIXED_LEN_BYTE_ARRAY({d.TypeLength})",
            PhysicalType.Boolean => "BOOLEAN",
            PhysicalType.Int32 => "INT32",
            PhysicalType.Int64 => "INT64",
            PhysicalType.Int96 => "INT96",
            PhysicalType.Float => "FLOAT",
            PhysicalType.Double => "DOUBLE",
            _ => d.PhysicalType.ToString().ToUpperInvariant(),
        };
        var logical = d.LogicalType switch
        {
            NoneLogicalType => null,
            StringLogicalType => "STRING",
            DecimalLogicalType dec => $"DECIMAL({dec.Precision},{dec.Scale})",
            TimestampLogicalType ts => $"TIMESTAMP({ts.TimeUnit.ToString().ToUpperInvariant()}, isAdjustedToUTC={ts.IsAdjustedToUtc.ToString().ToLowerInvariant()})",
            IntLogicalType i => $"INT({i.BitWidth},{(i.IsSigned ? "signed" : "unsigned")})",
            var other => other.ToString(),
        };
        var leaf = logical is null ? physical : $"{physical} {logical}";
        return p.IsList ? $"LIST<{leaf}>" : leaf;
    }

    static void ReadColumn(Cursor cursor, Plan p, Array target, int n, UpstreamTable table, LoadReadOptions options)
    {
        const int offset = 0;
        var column = cursor.Reader;
        var d = p.Descriptor;
        var name = p.Column.Name;
        if (p.IsList)
        {
            ReadList(cursor, name, (string?[])target, offset, n, table);
            return;
        }
        switch (p.Column.Kind)
        {
            case ColumnKind.Text or ColumnKind.JsonArray when IsString(d):
                ReadStrings((ColumnReader<ByteArray>)column, name, (string?[])target, offset, n, table);
                break;
            case ColumnKind.Text:
            {
                // data_month as an integer (pandas infers 202503 as int64): YYYYMM as text,
                // checked as a month like any other.
                var dst = (string?[])target;
                var values = ReadIntegers(column, n);
                for (var i = 0; i < n; i++)
                    dst[offset + i] = values[i]?.ToString(CultureInfo.InvariantCulture);
                break;
            }
            case ColumnKind.Int:
            {
                var dst = (int?[])target;
                var values = ReadNumbers(cursor, n);
                for (var i = 0; i < n; i++)
                {
                    if (values[i] is not { } v)
                        continue;
                    if (v != Math.Truncate(v))
                        table.CellErrors.Add(new(offset + i, name, Text(v), "not an integer"));
                    else if (v is < int.MinValue or > int.MaxValue)
                        table.CellErrors.Add(new(offset + i, name, Text(v), "integer out of range"));
                    else
                        dst[offset + i] = (int)v;
                }
                break;
            }
            case ColumnKind.Number:
            {
                var dst = (double?[])target;
                var values = ReadNumbers(cursor, n);
                for (var i = 0; i < n; i++)
                    dst[offset + i] = values[i];
                break;
            }
            case ColumnKind.Date:
                ReadDates(column, p, (DateOnly?[])target, offset, n, table, options);
                break;
        }
    }

    /// BYTE_ARRAY strings decoded strictly: invalid UTF-8 rejects the row instead of becoming U+FFFD.
    static void ReadStrings(ColumnReader<ByteArray> reader, string name, string?[] dst, int offset, int n, UpstreamTable table)
    {
        var maxDef = reader.ColumnDescriptor.MaxDefinitionLevel;
        var defs = new short[Math.Min(n, 8192)];
        var values = new ByteArray[defs.Length];
        byte[] bytes = new byte[256];
        var row = 0;
        while (row < n && reader.HasNext)
        {
            var levels = (int)reader.ReadBatch(Math.Min(defs.Length, n - row), defs, default, values, out _);
            if (levels == 0)
                break;
            var v = 0;
            for (var i = 0; i < levels; i++, row++)
            {
                if (maxDef > 0 && defs[i] < maxDef)
                    continue;
                var value = values[v++];
                if (bytes.Length < value.Length)
                    bytes = new byte[Math.Max(value.Length, bytes.Length * 2)];
                if (value.Length > 0)
                    Marshal.Copy(value.Pointer, bytes, 0, value.Length);
                dst[offset + row] = Decode(bytes.AsSpan(0, value.Length), offset + row, name, table);
            }
        }
        if (row != n)
            throw new InvalidDataException($"{row} values where the row group has {n} rows");
    }

    static string? Decode(ReadOnlySpan<byte> bytes, int row, string column, UpstreamTable table)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            table.CellErrors.Add(new(row, column, System.Text.Encoding.UTF8.GetString(bytes),
                $"not valid UTF-8 (byte 0x{e.BytesUnknown?.FirstOrDefault():X2} at byte {e.Index})"));
            return null;
        }
    }

    /// LIST&lt;STRING&gt; (Spark array&lt;string&gt;, pyarrow list&lt;string&gt;): stored as the JSON
    /// array of its elements, which is what the column holds. A null element cannot be one.
    static void ReadList(Cursor cursor, string name, string?[] dst, int offset, int n, UpstreamTable table)
    {
        var values = cursor.Logical<string?[]?>().ReadAll(n);
        for (var i = 0; i < n; i++)
        {
            if (values[i] is not { } items)
                continue;
            if (Array.IndexOf(items, null) >= 0)
                table.CellErrors.Add(new(offset + i, name, null, "a list element is null; a JSON array of strings cannot hold null"));
            else
                dst[offset + i] = JsonSerializer.Serialize(items, ListJson);
        }
    }

    static long?[] ReadIntegers(ColumnReader column, int n)
    {
        var d = column.ColumnDescriptor;
        var unsigned = d.LogicalType is IntLogicalType { IsSigned: false };
        if (d.PhysicalType == PhysicalType.Int32)
        {
            var values = ReadPhysical<int>(column, n);
            return values.Select(v => v is { } x ? unsigned ? (long)(uint)x : x : (long?)null).ToArray();
        }
        var wide = ReadPhysical<long>(column, n);
        if (unsigned && wide.Any(v => v < 0))
            throw new OverflowException("an unsigned 64-bit value is beyond the signed range");
        return wide;
    }

    /// Any accepted numeric encoding as a double. DECIMAL goes through the library's decimal
    /// (exact, any physical type), then to double like DOUBLE columns; FLOAT through its
    /// shortest decimal text so 0.1f lands as 0.1, not 0.100000001490116.
    static double?[] ReadNumbers(Cursor cursor, int n)
    {
        var column = cursor.Reader;
        var d = column.ColumnDescriptor;
        if (d.LogicalType is DecimalLogicalType)
            return cursor.Logical<decimal?>().ReadAll(n).Select(v => v is { } x ? (double)x : (double?)null).ToArray();
        return d.PhysicalType switch
        {
            PhysicalType.Double => ReadPhysical<double>(column, n),
            PhysicalType.Float => ReadPhysical<float>(column, n).Select(v => v is { } f
                ? float.IsFinite(f) ? double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : f
                : (double?)null).ToArray(),
            _ => ReadIntegers(column, n).Select(v => (double?)v).ToArray(),
        };
    }

    /// Values of a flat column by physical type, nulls where the definition level says so.
    static T?[] ReadPhysical<T>(ColumnReader column, int n) where T : unmanaged
    {
        var reader = (ColumnReader<T>)column;
        var maxDef = column.ColumnDescriptor.MaxDefinitionLevel;
        var result = new T?[n];
        var defs = new short[Math.Min(n, 8192)];
        var values = new T[defs.Length];
        var row = 0;
        while (row < n && reader.HasNext)
        {
            var levels = (int)reader.ReadBatch(Math.Min(defs.Length, n - row), defs, default, values, out _);
            if (levels == 0)
                break;
            var v = 0;
            for (var i = 0; i < levels; i++, row++)
                if (maxDef == 0 || defs[i] == maxDef)
                    result[row] = values[v++];
        }
        if (row != n)
            throw new InvalidDataException($"{row} values where the row group has {n} rows");
        return result;
    }

    /// DATE is a calendar date. An instant (TIMESTAMP isAdjustedToUTC=true, Spark's INT96)
    /// means its calendar date in the business time zone; a local TIMESTAMP
    /// (isAdjustedToUTC=false) means its own wall-clock date. Either must be a midnight there,
    /// since a time of day would make the date a guess.
    static void ReadDates(ColumnReader column, Plan p, DateOnly?[] dst, int offset, int n, UpstreamTable table, LoadReadOptions options)
    {
        var d = p.Descriptor;
        var name = p.Column.Name;
        if (d.LogicalType is DateLogicalType)
        {
            var days = ReadPhysical<int>(column, n);
            for (var i = 0; i < n; i++)
                if (days[i] is { } day)
                    dst[offset + i] = DateOnly.FromDayNumber(UnixEpochDay + day);
            return;
        }
        var zone = options.TimeZone;
        bool instant;
        long?[] ticks; // since 0001-01-01, UTC for an instant, wall-clock otherwise
        if (d.PhysicalType == PhysicalType.Int96)
        {
            instant = true;
            ticks = ReadPhysical<Int96>(column, n).Select(v => v is { } x ? Int96Ticks(x) : (long?)null).ToArray();
        }
        else
        {
            var ts = (TimestampLogicalType)d.LogicalType;
            instant = ts.IsAdjustedToUtc;
            var unit = ts.TimeUnit;
            ticks = ReadPhysical<long>(column, n).Select(v => v is { } x
                ? DateTime.UnixEpoch.Ticks + unit switch
                {
                    TimeUnit.Millis => checked(x * TimeSpan.TicksPerMillisecond),
                    TimeUnit.Micros => checked(x * 10),
                    _ => Math.DivRem(x, 100) is var (q, r) && r < 0 ? q - 1 : q,
                }
                : (long?)null).ToArray();
        }
        for (var i = 0; i < n; i++)
        {
            if (ticks[i] is not { } t)
                continue;
            var (date, reason) = instant ? CalendarDates.FromInstant(t, zone) : CalendarDates.FromWallClock(t);
            if (reason is not null)
                table.CellErrors.Add(new(offset + i, name, Shown(t, instant), reason));
            dst[offset + i] = date;
        }
    }

    static string Shown(long ticks, bool instant) => ticks < 0 || ticks > DateTime.MaxValue.Ticks
        ? ticks.ToString(CultureInfo.InvariantCulture)
        : new DateTime(ticks).ToString(instant ? "yyyy-MM-dd HH:mm:ss.FFFFFFF'Z'" : "yyyy-MM-dd HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture);

    static readonly int UnixEpochDay = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    // INT96 as Impala and Spark write it: nanoseconds of the day (8 bytes, little-endian),
    // then the Julian day number (4 bytes); Julian day 2440588 is 1970-01-01.
    static long Int96Ticks(Int96 v)
    {
        var nanos = (long)(((ulong)(uint)v.B << 32) | (uint)v.A);
        return DateTime.UnixEpoch.Ticks + checked(((long)v.C - 2440588) * TimeSpan.TicksPerDay) + nanos / 100;
    }

    static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    // Arrow's messages start with the C++ exception's mangled type name; the rest is the cause.
    static string Short(Exception e)
    {
        var m = e.Message;
        var i = m.IndexOf("(message: '", StringComparison.Ordinal);
        if (i >= 0)
        {
            m = m[(i + 11)..];
            var end = m.LastIndexOf("')", StringComparison.Ordinal);
            if (end >= 0) m = m[..end];
        }
        return m.Replace('\n', ' ').Trim();
    }
}
