using System.CommandLine;
using Npgsql;
using Spectre.Console;
using Ut360.Data;
using Ut360.Data.Schema;

namespace Ut360.Cli.Db;

public static class DbCommand
{
    public static Command Create()
    {
        var migrate = new Command("migrate", "Apply the schema migrations to the configured database.");
        migrate.SetAction(async (_, ct) =>
        {
            await using var db = NpgsqlDataSource.Create(Ut360Settings.Postgres());
            var applied = await Migrator.MigrateAsync(db, ct);
            if (applied.Count == 0)
                AnsiConsole.MarkupLineInterpolated($"[grey]schema is current[/] ({Migrator.Migrations.Count} migrations)");
            else
                AnsiConsole.MarkupLineInterpolated($"applied [green]{string.Join(", ", applied)}[/]");
            return 0;
        });
        var db = new Command("db", "Database schema.");
        db.Subcommands.Add(migrate);
        return db;
    }
}
