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
    const string Template = "ut360_test_template";

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
        new(Ut360Settings.Postgres()) { Database = database, Pooling = false };

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
            await using (var admin = new NpgsqlConnection(ServerBuilder("postgres").ConnectionString))
            {
                await admin.OpenAsync(ct);
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Template} WITH (FORCE)", admin);
                await drop.ExecuteNonQueryAsync(ct);
                await using var create = new NpgsqlCommand($"CREATE DATABASE {Template}", admin);
                await create.ExecuteNonQueryAsync(ct);
            }
            await using (var db = NpgsqlDataSource.Create(ServerBuilder(Template).ConnectionString))
                await Migrator.MigrateAsync(db, ct);
            _templateReady = true;
        }
        finally
        {
            TemplateLock.Release();
        }
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
