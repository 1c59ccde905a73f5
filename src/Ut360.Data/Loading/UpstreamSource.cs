using Ut360.Data.Upstream;

namespace Ut360.Data.Loading;

/// Where one upstream table is: a single file, or the part files of a Spark/Hive output folder
/// (`part-*.parquet`, `part-*.csv[.gz]`, in name order; `_SUCCESS`, `_committed_*`, `.crc` and
/// other hidden or marker files are not data). Name is what messages and data_loads call it.
public sealed record UpstreamSource(string Name, string Format, IReadOnlyList<string> Parts)
{
    /// Finds the table in <paramref name="directory"/>, in the given format or (null) any;
    /// null when it is not there. A folder of a Spark job that did not finish (a `_temporary`
    /// folder inside, or no part file) stops the load.
    public static UpstreamSource? Find(string directory, UpstreamFile file, string? format)
    {
        if (format is null or "parquet")
        {
            var parquet = Path.Combine(directory, file.ParquetFile);
            if (File.Exists(parquet))
                return new(file.ParquetFile, "parquet", [parquet]);
            foreach (var folder in new[] { parquet, Path.Combine(directory, file.Name) })
                if (Folder(folder, ".parquet") is { } parts)
                    return new(Path.GetFileName(folder), "parquet", parts);
        }
        if (format is null or "csv")
        {
            foreach (var name in new[] { file.CsvFile, file.CsvFile + ".gz" })
            {
                var path = Path.Combine(directory, name);
                if (File.Exists(path))
                    return new(name, "csv", [path]);
            }
            foreach (var folder in new[] { Path.Combine(directory, file.CsvFile), Path.Combine(directory, file.Name) })
                if (Folder(folder, ".csv") is { } parts)
                    return new(Path.GetFileName(folder), "csv", parts);
        }
        return null;
    }

    static string[]? Folder(string folder, string extension)
    {
        if (!Directory.Exists(folder))
            return null;
        var parts = Directory.EnumerateFiles(folder)
            .Where(p => !IsMarker(Path.GetFileName(p)))
            .Where(p => p.EndsWith(extension, StringComparison.OrdinalIgnoreCase)
                        || (extension == ".csv" && p.EndsWith(".csv.gz", StringComparison.OrdinalIgnoreCase)))
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (parts.Length == 0)
            return null;
        if (Directory.Exists(Path.Combine(folder, "_temporary")))
            throw new LoadCheckException($"{Path.GetFileName(folder)}: holds a _temporary folder: the job that wrote it has not finished (or failed)");
        return parts;
    }

    static bool IsMarker(string name) => name.StartsWith('_') || name.StartsWith('.') || name.EndsWith(".crc", StringComparison.Ordinal);
}
