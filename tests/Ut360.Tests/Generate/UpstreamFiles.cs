using System.Globalization;
using System.Text;
using Parquet;
using Ut360.Data.Upstream;

namespace Ut360.Tests.Generate;

/// Reads upstream files back into columns: Parquet with Parquet.Net, CSV with a small RFC 4180
/// parser, so the tests check what a reader of the files sees, not the generator's arrays.
public static class UpstreamFiles
{
    public static async Task<Dictionary<string, Array>> ReadParquetAsync(string path)
    {
        await using var reader = await ParquetReader.CreateAsync(path, new ParquetOptions { UseDateOnlyTypeForDates = true });
        long total = 0;
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var rg = reader.OpenRowGroupReader(g);
            total += rg.RowCount;
        }
        var n = checked((int)total);
        var columns = new Dictionary<string, Array>();
        foreach (var field in reader.Schema.DataFields)
        {
            var kind = KindOf(path, field.Name);
            Array target = kind switch
            {
                ColumnKind.Text or ColumnKind.JsonArray => new string?[n],
                ColumnKind.Int => field.IsNullable ? new int?[n] : new int[n],
                ColumnKind.Number => field.IsNullable ? new double?[n] : new double[n],
                ColumnKind.Date => field.IsNullable ? new DateOnly?[n] : new DateOnly[n],
                _ => throw new InvalidOperationException(),
            };
            var offset = 0;
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var rg = reader.OpenRowGroupReader(g);
                var len = (int)rg.RowCount;
                switch (target)
                {
                    case string?[] s: await rg.ReadAsync(field, s.AsMemory(offset, len)); break;
                    case int[] v: await rg.ReadAsync<int>(field, v.AsMemory(offset, len)); break;
                    case int?[] v: await rg.ReadAsync<int>(field, v.AsMemory(offset, len)); break;
                    case double[] v: await rg.ReadAsync<double>(field, v.AsMemory(offset, len)); break;
                    case double?[] v: await rg.ReadAsync<double>(field, v.AsMemory(offset, len)); break;
                    case DateOnly[] v: await rg.ReadAsync<DateOnly>(field, v.AsMemory(offset, len)); break;
                    case DateOnly?[] v: await rg.ReadAsync<DateOnly>(field, v.AsMemory(offset, len)); break;
                }
                offset += len;
            }
            columns[field.Name] = target;
        }
        return columns;
    }

    static ColumnKind KindOf(string path, string column)
    {
        var name = Path.GetFileName(path).Split('.')[0];
        var file = UpstreamFormat.Files.Single(f => f.Name == name);
        return file.Columns.Single(c => c.Name == column).Kind;
    }

    /// Header and rows of a CSV file; a field that was empty and unquoted comes back as null.
    public static (string[] Header, List<string?[]> Rows) ReadCsv(string path)
    {
        var text = File.ReadAllText(path, new UTF8Encoding(false, true));
        var rows = new List<string?[]>();
        var row = new List<string?>();
        var field = new StringBuilder();
        bool quoted = false, wasQuoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else field.Append(ch);
                continue;
            }
            switch (ch)
            {
                case '"': quoted = wasQuoted = true; break;
                case ',':
                    row.Add(field.Length == 0 && !wasQuoted ? null : field.ToString());
                    field.Clear(); wasQuoted = false;
                    break;
                case '\n':
                    row.Add(field.Length == 0 && !wasQuoted ? null : field.ToString());
                    field.Clear(); wasQuoted = false;
                    rows.Add(row.ToArray());
                    row.Clear();
                    break;
                default: field.Append(ch); break;
            }
        }
        Assert.Empty(row); // the file ends with a line break
        var header = rows[0].Select(h => h!).ToArray();
        rows.RemoveAt(0);
        return (header, rows);
    }

    /// The CSV text a Parquet value must have.
    public static string? CsvForm(object? value) => value switch
    {
        null => null,
        double d => d.ToString(CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        string s => s,
        _ => throw new InvalidOperationException(value.GetType().Name),
    };
}
