using System.CommandLine;
using Ut360.Cli.Db;
using Ut360.Cli.Generate;
using Ut360.Cli.Load;
using Ut360.Cli.Sync;

var root = new RootCommand("UT360 Recommendations: generate, load and sync the recommendation data.");
root.Subcommands.Add(DbCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(LoadCommand.Create());
root.Subcommands.Add(SyncCommand.Create());
try
{
    // Our own handler: a fault is one line naming what failed, never a stack trace.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is not OperationCanceledException)
{
    Console.Error.WriteLine($"ut360: {Ut360.Cli.CommandErrors.Describe(e)}");
    return 1;
}
