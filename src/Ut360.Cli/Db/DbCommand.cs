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
            AnsiConsole.MarkupLine(applied.Count == 0
                ? "[grey]schema is current[/] ({0} migrations)".Replace("{0}", Migrator.Migrations.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))
                : $"applied [green]{string.Join(", ", applied)}[/]");
            return 0;
        });
        var db = new Command("db", "Database schema.");
        db.Subcommands.Add(migrate);
        return db;
    }
}
