using Microsoft.Extensions.Configuration;

namespace Ut360.Data;

/// Connection settings shared by the CLI, the API and the tests. Standard .NET configuration
/// (ConnectionStrings__Postgres, ConnectionStrings__Redis) wins; otherwise the local servers
/// that `./ut360 services up` starts on the project ports.
public static class Ut360Settings
{
    public const string DefaultPostgres = "Host=127.0.0.1;Port=55432;Username=postgres;Database=ut360;Include Error Detail=true";
    public const string DefaultRedis = "127.0.0.1:56379";

    public static string Postgres(IConfiguration? configuration = null) =>
        InUtc(Value(configuration, "ConnectionStrings:Postgres", "ConnectionStrings__Postgres") ?? DefaultPostgres);

    /// The connection string with the session time zone set to UTC, whatever the server's or
    /// the database's default: the design tables' TIMESTAMP columns hold UTC times, and
    /// PostgreSQL reads them against a timestamptz (a sync's "changed since") in the session's
    /// zone.
    public static string InUtc(string connectionString) =>
        new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { Timezone = "UTC" }.ConnectionString;

    public static string Redis(IConfiguration? configuration = null) =>
        Value(configuration, "ConnectionStrings:Redis", "ConnectionStrings__Redis") ?? DefaultRedis;

    static string? Value(IConfiguration? configuration, string key, string env)
    {
        var value = configuration?[key];
        if (string.IsNullOrWhiteSpace(value))
            value = Environment.GetEnvironmentVariable(env);
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }
}
