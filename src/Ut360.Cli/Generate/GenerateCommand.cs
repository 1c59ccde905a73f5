using System.CommandLine;

namespace Ut360.Cli.Generate;

public static class GenerateCommand
{
    public static Command Create()
    {
        var command = new Command("generate", "Not built yet.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("ut360 generate: not built yet");
            return 2;
        });
        return command;
    }
}
