using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// A batch of rows of one upstream file, held column-wise: each column is a typed array of Rows values
/// (string?[] for Text/JsonArray, int?[] for Int, double?[] for Number, DateOnly?[] for Date).
/// Cells that could not be read as their type are null in the array and listed in CellErrors,
/// so the checks quarantine the row instead of the reader failing the whole file.
/// FirstRow is the 0-based position of the batch's first row in the whole table (its parts
/// together); CellError rows are positions within the batch.
public sealed class UpstreamTable(UpstreamFile file, string fileName, int rows, long firstRow = 0)
{
    public UpstreamFile File { get; } = file;
    public string FileName { get; } = fileName;
    public int Rows { get; } = rows;
    public long FirstRow { get; } = firstRow;
    readonly Dictionary<string, Array> _columns = new(StringComparer.Ordinal);

    public List<CellError> CellErrors { get; } = [];

    public void Set(string column, Array values) => _columns[column] = values;

    public string?[] Text(string column) => (string?[])_columns[column];
    public int?[] Int(string column) => (int?[])_columns[column];
    public double?[] Number(string column) => (double?[])_columns[column];
    public DateOnly?[] Date(string column) => (DateOnly?[])_columns[column];
}

/// A cell that could not be read as its column's type: the row is rejected with this reason.
public readonly record struct CellError(int Row, string Column, string? Value, string Reason);

/// A problem that stops the load before anything changes (missing file, missing column,
/// wrong column type, unreadable file). The message names the file and the column.
public sealed class LoadCheckException(string message) : Exception(message);
