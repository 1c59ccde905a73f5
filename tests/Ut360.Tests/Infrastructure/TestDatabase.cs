using Npgsql;
using Ut360.Data;
using Ut360.Data.Schema;

namespace Ut360.Tests.Infrastructure;

/// A fresh, migrated PostgreSQL database of its own for one test (or one test class), on the
/// server the environment names (./ut360 test starts a local one). Created from a migrated
/// template so each costs a file copy, not a migration run; dropped on dispose.
public sealed class TestDatabase : IAsyncDisposable
{
    static readonly SemaphoreSlim TemplateLock = new(1, 1);
    static bool _templateReady;
    static readonly string Template = "ut360_test_template_" + MigrationsHash();

    static string MigrationsHash()
    {
        var text = string.Concat(Migrator.Migrations.Select(m => m.Version + "\n" + m.Sql));
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..12];
    }

    public string Name { get; }
    public string ConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }

    TestDatabase(string name, string connectionString)
    {
        Name = name;
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    static NpgsqlConnectionStringBuilder ServerBuilder(string database) =>
        new(Ut360Settings.Postgres()) { Database = database, Pooling = false, CommandTimeout = 300 };

    public static async Task<TestDatabase> CreateAsync(CancellationToken ct = default)
    {
        await EnsureTemplateAsync(ct);
        var name = "ut360_test_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(ServerBuilder("postgres").ConnectionString))
        {
            await admin.OpenAsync(ct);
            // CREATE DATABASE … TEMPLATE fails while another session uses the template; retry briefly.
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name} TEMPLATE {Template}", admin);
                    await cmd.ExecuteNonQueryAsync(ct);
                    break;
                }
                catch (PostgresException e) when (e.SqlState == "55006" && attempt < 50)
                {
                    await Task.Delay(100, ct);
                }
            }
        }
        var builder = new NpgsqlConnectionStringBuilder(Ut360Settings.Postgres()) { Database = name };
        return new TestDatabase(name, builder.ConnectionString);
    }

    static async Task EnsureTemplateAsync(CancellationToken ct)
    {
        if (_templateReady)
            return;
        await TemplateLock.WaitAsync(ct);
        try
        {
            if (_templateReady)
                return;
            // Other test processes may share the server: the template is named after the migrations it
            // holds, built under a temporary name and renamed when complete, so a process never drops
            // or uses a template another one is still building.
            await using var admin = new NpgsqlConnection(ServerBuilder("postgres").ConnectionString);
            await admin.OpenAsync(ct);
            await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @n", admin))
            {
                exists.Parameters.AddWithValue("n", Template);
                if (await exists.ExecuteScalarAsync(ct) is not null)
                {
                    _templateReady = true;
                    return;
                }
            }
            var building = Template + "_" + Environment.ProcessId;
            await Execute(admin, $"DROP DATABASE IF EXISTS {building} WITH (FORCE)", ct);
            await Execute(admin, $"CREATE DATABASE {building}", ct);
            await using (var db = NpgsqlDataSource.Create(ServerBuilder(building).ConnectionString))
                await Migrator.MigrateAsync(db, ct);
            NpgsqlConnection.ClearAllPools();
            try
            {
                await Execute(admin, $"ALTER DATABASE {building} RENAME TO {Template}", ct);
            }
            catch (PostgresException e) when (e.SqlState == "42P04")
            {
                // Another process finished the same template first; theirs is as good as ours.
                await Execute(admin, $"DROP DATABASE IF EXISTS {building} WITH (FORCE)", ct);
            }
            _templateReady = true;
        }
        finally
        {
            TemplateLock.Release();
        }
    }

    static async Task Execute(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(ServerBuilder("postgres").ConnectionString);
        await admin.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", admin);
        await cmd.ExecuteNonQueryAsync();
    }
}
