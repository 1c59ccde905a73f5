using System.CommandLine;

namespace Ut360.Cli.Sync;

public static class SyncCommand
{
    public static Command Create()
    {
        var command = new Command("sync", "Not built yet.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("ut360 sync: not built yet");
            return 2;
        });
        return command;
    }
}
