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
            // Every section validated before anything is resolved, so that all the missing
            // settings are named at once, not the first one a service happens to need.
            app.Services.GetService<IStartupValidator>()?.Validate();
            app.Run();
            return 0;
        }
        catch (Exception e) when (Invalid(e) is { Count: > 0 } failures)
        {
            Console.Error.WriteLine($"The API cannot start: {string.Join(" ", failures)}");
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"The API cannot start: {e.GetBaseException().Message}");
            return 1;
        }
    }

    // Options validated at start: one exception, or an AggregateException of one per section.
    static List<string> Invalid(Exception e) => e switch
    {
        OptionsValidationException v => [.. v.Failures],
        AggregateException a => [.. a.InnerExceptions.SelectMany(Invalid)],
        _ => [],
    };
}
