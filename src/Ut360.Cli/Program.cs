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
return await root.Parse(args).InvokeAsync();
