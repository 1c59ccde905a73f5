using System.Reflection;
using Npgsql;

namespace Ut360.Data.Schema;

/// Applies the numbered SQL files embedded in this assembly, each once, in order, recorded in
/// schema_migrations. An advisory lock keeps two processes starting together from racing.
public static class Migrator
{
    const long LockKey = 0x7574333630; // "ut360"

    public static IReadOnlyList<(string Version, string Sql)> Migrations { get; } = Load();

    static List<(string, string)> Load()
    {
        var assembly = typeof(Migrator).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("Migrations/", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => (Path.GetFileNameWithoutExtension(n), Read(assembly, n)))
            .ToList();
    }

    static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// Returns the versions applied by this call (empty when the schema was current).
    public static async Task<IReadOnlyList<string>> MigrateAsync(NpgsqlDataSource dataSource, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using (var cmd = new NpgsqlCommand("SELECT pg_advisory_lock(@k)", conn))
        {
            cmd.Parameters.AddWithValue("k", LockKey);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        try
        {
            await using (var cmd = new NpgsqlCommand("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version VARCHAR(100) PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())
                """, conn))
            {
                await cmd.ExecuteNonQueryAsync(ct);
            }

            var applied = new HashSet<string>(StringComparer.Ordinal);
            await using (var cmd = new NpgsqlCommand("SELECT version FROM schema_migrations", conn))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                    applied.Add(reader.GetString(0));
            }

            var done = new List<string>();
            foreach (var (version, sql) in Migrations)
            {
                if (applied.Contains(version))
                    continue;
                await using var tx = await conn.BeginTransactionAsync(ct);
                await using (var cmd = new NpgsqlCommand(sql, conn, tx))
                    await cmd.ExecuteNonQueryAsync(ct);
                await using (var cmd = new NpgsqlCommand("INSERT INTO schema_migrations(version) VALUES (@v)", conn, tx))
                {
                    cmd.Parameters.AddWithValue("v", version);
                    await cmd.ExecuteNonQueryAsync(ct);
                }
                await tx.CommitAsync(ct);
                done.Add(version);
            }
            return done;
        }
        finally
        {
            await using var cmd = new NpgsqlCommand("SELECT pg_advisory_unlock(@k)", conn);
            cmd.Parameters.AddWithValue("k", LockKey);
            await cmd.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }
}
