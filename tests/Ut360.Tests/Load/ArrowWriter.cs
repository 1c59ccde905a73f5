using System.Globalization;
using ParquetSharp;
using Ut360.Data.Upstream;

namespace Ut360.Tests.Load;

/// Writes one upstream file of an <see cref="UpstreamFixture"/> with ParquetSharp (the Arrow
/// C++ writer behind pyarrow and pandas), so a test can choose what Parquet.Net does not
/// write: page v2 with DELTA_BINARY_PACKED decimals, UTC-adjusted timestamps, INT96, LIST
/// columns, raw bytes in a STRING column. Columns without an override get the generator's types.
public sealed class ArrowWriter
{
    /// A column written another way: its ParquetSharp column and the value each row gets.
    public sealed record Override(Column Column, Func<object?, object?> Value);

    public Dictionary<string, Override> Overrides { get; } = new(StringComparer.Ordinal);
    public bool PageV2 { get; init; }

    public static Override TimestampUtc(string name, TimeUnit unit = TimeUnit.Micros, TimeSpan? shift = null) =>
        new(new Column<DateTime?>(name, LogicalType.Timestamp(true, unit)),
            v => v is DateOnly d ? DateTime.SpecifyKind(d.ToDateTime(TimeOnly.MinValue) - TimeSpan.FromHours(7) + (shift ?? TimeSpan.Zero), DateTimeKind.Utc) : null);

    public static Override TimestampLocal(string name, TimeSpan? shift = null) =>
        new(new Column<DateTime?>(name, LogicalType.Timestamp(false, TimeUnit.Millis)),
            v => v is DateOnly d ? d.ToDateTime(TimeOnly.MinValue) + (shift ?? TimeSpan.Zero) : null);

    public static Override Decimal(string name, int precision, int scale) =>
        new(new Column<decimal?>(name, LogicalType.Decimal(precision, scale)), v => v is null ? null : (decimal)Convert.ToDouble(v, CultureInfo.InvariantCulture));

    public static Override List(string name) =>
        new(new Column<string[]>(name), v => v is string s ? System.Text.Json.JsonSerializer.Deserialize<string[]>(s) : null);

    public void Write(string path, UpstreamFile file, List<Dictionary<string, object?>> rows)
    {
        var columns = file.Columns.Select(c => Overrides.TryGetValue(c.Name, out var o) ? o.Column : Default(c)).ToArray();
        var builder = new WriterPropertiesBuilder().Compression(Compression.Snappy);
        if (PageV2)
            builder = builder.DataPageVersion(ParquetDataPageVersion.V2).DisableDictionary().EnableStoreDecimalAsInteger();
        // Delta-encoded integers next to the decimals, as DuckDB and Spark write page v2.
        if (PageV2)
            foreach (var c in file.Columns.Where(c => c.Kind == ColumnKind.Int && !Overrides.ContainsKey(c.Name)))
                builder = builder.Encoding(c.Name, ParquetSharp.Encoding.DeltaBinaryPacked);
        using var properties = builder.Build();
        using var writer = new ParquetFileWriter(path, columns, properties);
        using var group = writer.AppendRowGroup();
        foreach (var column in file.Columns)
        {
            var values = rows.Select(r => r.GetValueOrDefault(column.Name)).ToList();
            if (Overrides.TryGetValue(column.Name, out var o))
                values = values.Select(o.Value).ToList();
            var type = Overrides.TryGetValue(column.Name, out var ov) ? ov.Column.LogicalSystemType : Default(column).LogicalSystemType;
            using var next = group.NextColumn();
            if (type == typeof(string)) next.LogicalWriter<string?>().WriteBatch(values.Select(v => (string?)v).ToArray());
            else if (type == typeof(int?)) next.LogicalWriter<int?>().WriteBatch(values.Select(v => v is null ? null : (int?)Convert.ToInt32(v, CultureInfo.InvariantCulture)).ToArray());
            else if (type == typeof(long?)) next.LogicalWriter<long?>().WriteBatch(values.Select(v => v is null ? null : (long?)Convert.ToInt64(v, CultureInfo.InvariantCulture)).ToArray());
            else if (type == typeof(double?)) next.LogicalWriter<double?>().WriteBatch(values.Select(v => v is null ? null : (double?)Convert.ToDouble(v, CultureInfo.InvariantCulture)).ToArray());
            else if (type == typeof(decimal?)) next.LogicalWriter<decimal?>().WriteBatch(values.Select(v => (decimal?)v).ToArray());
            else if (type == typeof(Date?)) next.LogicalWriter<Date?>().WriteBatch(values.Select(v => v is DateOnly d ? new Date(d.Year, d.Month, d.Day) : (Date?)null).ToArray());
            else if (type == typeof(DateTime?)) next.LogicalWriter<DateTime?>().WriteBatch(values.Select(v => (DateTime?)v).ToArray());
            else if (type == typeof(Int96?)) next.LogicalWriter<Int96?>().WriteBatch(values.Select(v => (Int96?)v).ToArray());
            else if (type == typeof(string[])) next.LogicalWriter<string[]>().WriteBatch(values.Select(v => (string[])v!).ToArray());
            else if (type == typeof(byte[])) next.LogicalWriter<byte[]?>().WriteBatch(values.Select(v => (byte[]?)v).ToArray());
            else throw new NotSupportedException(type.Name);
        }
        writer.Close();
    }

    static Column Default(UpstreamColumn c) => c.Kind switch
    {
        ColumnKind.Int => new Column<int?>(c.Name),
        ColumnKind.Number => new Column<double?>(c.Name),
        ColumnKind.Date => new Column<Date?>(c.Name),
        _ => new Column<string>(c.Name, LogicalType.String()),
    };
}
