using Microsoft.Extensions.Options;

namespace Ut360.Api.Infrastructure;

public static class Startup
{
    /// Runs the service until it is told to stop. Returns the process exit code: 0 after a
    /// requested stop; 1 when it could not start (a missing or invalid setting, a port in use),
    /// the reason written to standard error as one line naming the setting, not a stack trace.
    /// The host's loggers are already disposed when a failed start gets here, hence stderr.
    public static int RunService(this WebApplication app)
    {
        try
        {
            app.Run();
            return 0;
        }
        catch (OptionsValidationException e)
        {
            Console.Error.WriteLine($"The API cannot start: {string.Join(" ", e.Failures)}");
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"The API cannot start: {e.GetBaseException().Message}");
            return 1;
        }
    }
}
