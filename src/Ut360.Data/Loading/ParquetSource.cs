using Parquet;
using Parquet.Schema;
using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// Reads an upstream Parquet file column by column into typed arrays. The physical types the
/// generator writes are UTF-8 strings, INT32, DOUBLE and DATE; the harmless variants a pandas
/// pipeline writes (INT64 for Int, FLOAT/INT32/INT64 for Number, TIMESTAMP for Date) are
/// accepted too. Anything else fails the load at once, naming the file and the column.
public static class ParquetSource
{
    public static async Task<UpstreamTable> ReadAsync(string path, UpstreamFile file, Action<long>? rowsRead, CancellationToken ct)
    {
        var fileName = Path.GetFileName(path);
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(path, new ParquetOptions { UseDateOnlyTypeForDates = true }, ct);
        }
        catch (Exception e) when (e is ParquetException or IOException or InvalidDataException)
        {
            throw new LoadCheckException($"{fileName}: not a readable Parquet file ({e.Message})");
        }
        await using var _ = reader;

        var fields = reader.Schema.GetDataFields();
        var byName = new Dictionary<string, DataField>(StringComparer.Ordinal);
        foreach (var f in fields)
            byName.TryAdd(f.Name, f);

        var plan = new List<(UpstreamColumn Column, DataField Field, Type Clr)>();
        foreach (var column in file.Columns)
        {
            if (!byName.TryGetValue(column.Name, out var field))
                throw new LoadCheckException($"{fileName}: column '{column.Name}' is missing");
            var clr = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
            if (field.IsArray || !Accepts(column.Kind, clr))
                throw new LoadCheckException(
                    $"{fileName}: column '{column.Name}' has type {Describe(field, clr)}, expected {Expected(column.Kind)}");
            plan.Add((column, field, clr));
        }

        long total = 0;
        for (var g = 0; g < reader.RowGroupCount; g++)
            total += reader.RowGroups[g].RowCount;
        if (total > int.MaxValue)
            throw new LoadCheckException($"{fileName}: {total} rows is more than one load takes");
        var rows = (int)total;
        var table = new UpstreamTable(file, fileName, rows);
        var arrays = plan.Select(p => Allocate(p.Column.Kind, rows)).ToArray();

        var offset = 0;
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var n = checked((int)group.RowCount);
            for (var c = 0; c < plan.Count; c++)
                await ReadColumnAsync(group, plan[c], arrays[c], offset, n, table, ct);
            offset += n;
            rowsRead?.Invoke(n);
        }
        for (var c = 0; c < plan.Count; c++)
            table.Set(plan[c].Column.Name, arrays[c]);
        return table;
    }

    static Array Allocate(ColumnKind kind, int rows) => kind switch
    {
        ColumnKind.Int => new int?[rows],
        ColumnKind.Number => new double?[rows],
        ColumnKind.Date => new DateOnly?[rows],
        _ => new string?[rows],
    };

    static bool IsString(Type clr) => clr == typeof(string) || clr == typeof(ReadOnlyMemory<char>);

    static bool Accepts(ColumnKind kind, Type clr) => kind switch
    {
        ColumnKind.Text or ColumnKind.JsonArray => IsString(clr),
        ColumnKind.Int => clr == typeof(int) || clr == typeof(long) || clr == typeof(short),
        ColumnKind.Number => clr == typeof(double) || clr == typeof(float) || clr == typeof(int) || clr == typeof(long) || clr == typeof(decimal),
        ColumnKind.Date => clr == typeof(DateOnly) || clr == typeof(DateTime),
        _ => false,
    };

    static string Expected(ColumnKind kind) => kind switch
    {
        ColumnKind.Text => "a UTF-8 string",
        ColumnKind.JsonArray => "a UTF-8 string holding a JSON array",
        ColumnKind.Int => "INT32 (or INT64)",
        ColumnKind.Number => "DOUBLE (or FLOAT, INT32, INT64)",
        ColumnKind.Date => "DATE (or TIMESTAMP)",
        _ => kind.ToString(),
    };

    static string Describe(DataField field, Type clr) =>
        field.IsArray ? "a list" : IsString(clr) ? "string" : clr.Name;

    static async Task ReadColumnAsync(ParquetRowGroupReader group, (UpstreamColumn Column, DataField Field, Type Clr) p,
        Array target, int offset, int n, UpstreamTable table, CancellationToken ct)
    {
        var (column, field, clr) = p;
        switch (column.Kind)
        {
            case ColumnKind.Text or ColumnKind.JsonArray:
                await group.ReadAsync(field, ((string?[])target).AsMemory(offset, n), null, ct);
                break;
            case ColumnKind.Int when clr == typeof(int):
                await group.ReadAsync<int>(field, ((int?[])target).AsMemory(offset, n), null, ct);
                break;
            case ColumnKind.Int:
            {
                var wide = await ReadAsLong(group, field, clr, n, ct);
                var dst = (int?[])target;
                for (var i = 0; i < n; i++)
                {
                    if (wide[i] is not { } v)
                        continue;
                    if (v is < int.MinValue or > int.MaxValue)
                        table.CellErrors.Add(new(offset + i, column.Name, v.ToString(System.Globalization.CultureInfo.InvariantCulture), "integer out of range"));
                    else
                        dst[offset + i] = (int)v;
                }
                break;
            }
            case ColumnKind.Number when clr == typeof(double):
                await group.ReadAsync<double>(field, ((double?[])target).AsMemory(offset, n), null, ct);
                break;
            case ColumnKind.Number:
            {
                var dst = (double?[])target;
                if (clr == typeof(float))
                {
                    var tmp = new float?[n];
                    await group.ReadAsync<float>(field, tmp, null, ct);
                    // Through decimal text so 0.1f lands as 0.1, not 0.100000001490116.
                    for (var i = 0; i < n; i++)
                        dst[offset + i] = tmp[i] is { } f ? (float.IsFinite(f) ? double.Parse(f.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture) : f) : null;
                }
                else if (clr == typeof(decimal))
                {
                    var tmp = new decimal?[n];
                    await group.ReadAsync<decimal>(field, tmp, null, ct);
                    for (var i = 0; i < n; i++)
                        dst[offset + i] = tmp[i] is { } d ? (double)d : null;
                }
                else
                {
                    var wide = await ReadAsLong(group, field, clr, n, ct);
                    for (var i = 0; i < n; i++)
                        dst[offset + i] = wide[i];
                }
                break;
            }
            case ColumnKind.Date when clr == typeof(DateOnly):
                await group.ReadAsync<DateOnly>(field, ((DateOnly?[])target).AsMemory(offset, n), null, ct);
                break;
            case ColumnKind.Date:
            {
                var tmp = new DateTime?[n];
                await group.ReadAsync<DateTime>(field, tmp, null, ct);
                var dst = (DateOnly?[])target;
                for (var i = 0; i < n; i++)
                    dst[offset + i] = tmp[i] is { } t ? DateOnly.FromDateTime(t) : null;
                break;
            }
        }
    }

    static async Task<long?[]> ReadAsLong(ParquetRowGroupReader group, DataField field, Type clr, int n, CancellationToken ct)
    {
        var wide = new long?[n];
        if (clr == typeof(long))
        {
            await group.ReadAsync<long>(field, wide, null, ct);
        }
        else if (clr == typeof(int))
        {
            var tmp = new int?[n];
            await group.ReadAsync<int>(field, tmp, null, ct);
            for (var i = 0; i < n; i++)
                wide[i] = tmp[i];
        }
        else
        {
            var tmp = new short?[n];
            await group.ReadAsync<short>(field, tmp, null, ct);
            for (var i = 0; i < n; i++)
                wide[i] = tmp[i];
        }
        return wide;
    }
}
