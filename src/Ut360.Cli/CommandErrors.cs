using Npgsql;
using StackExchange.Redis;

namespace Ut360.Cli;

/// What stopped a command, in one line for an operator instead of the framework's stack trace.
/// A fault of a server names the server and what it said; anything else names its type.
static class CommandErrors
{
    public static string Describe(Exception e) => e switch
    {
        RedisConnectionException c => $"Redis: {c.FailureType}: {FirstLine(c.Message)}",
        RedisTimeoutException => "Redis did not answer within its timeout (asyncTimeout / syncTimeout in ConnectionStrings__Redis); "
            + "a sync that had started is recorded as failed",
        RedisServerException s when s.Message.StartsWith("OOM", StringComparison.Ordinal) =>
            $"Redis refused a write, out of memory ({FirstLine(s.Message)}): raise maxmemory or free memory; a sync that had started is recorded as failed (docs/redis.md)",
        RedisException r => $"Redis: {FirstLine(r.Message)}",
        NpgsqlException n => $"PostgreSQL: {FirstLine(n.Message)}",
        _ => $"{e.GetType().Name}: {FirstLine(e.Message)}",
    };

    /// The servers a configuration names, for "cannot reach …" messages.
    public static string Endpoints(ConfigurationOptions options) =>
        string.Join(", ", options.EndPoints.Select(e => e.ToString()));

    static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }
}
