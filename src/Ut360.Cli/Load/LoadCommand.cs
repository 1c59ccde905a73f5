using System.CommandLine;

namespace Ut360.Cli.Load;

public static class LoadCommand
{
    public static Command Create()
    {
        var command = new Command("load", "Not built yet.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("ut360 load: not built yet");
            return 2;
        });
        return command;
    }
}
