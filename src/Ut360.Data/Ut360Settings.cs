using Microsoft.Extensions.Configuration;
using StackExchange.Redis;

namespace Ut360.Data;

/// Connection settings shared by the CLI, the API and the tests. Standard .NET configuration
/// (ConnectionStrings__Postgres, ConnectionStrings__Redis) wins; otherwise the local servers
/// that `./ut360 services up` starts: on UT360_PG_PORT / UT360_REDIS_PORT when set (./ut360
/// sets them, from the environment or from the ports the checkout's `services up` remembered),
/// else on the project ports 55432 / 56379.
public static class Ut360Settings
{
    public const int DefaultPostgresPort = 55432;
    public const int DefaultRedisPort = 56379;

    public static string DefaultPostgres =>
        $"Host=127.0.0.1;Port={Port("UT360_PG_PORT", DefaultPostgresPort)};Username=postgres;Database=ut360;Include Error Detail=true";

    public static string DefaultRedis => $"127.0.0.1:{Port("UT360_REDIS_PORT", DefaultRedisPort)}";

    /// <exception cref="InvalidOperationException">the variable is set but is not a TCP port.</exception>
    static int Port(string variable, int fallback)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(text))
            return fallback;
        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? port
            : throw new InvalidOperationException($"{variable}='{text}' is not a TCP port (1-65535)");
    }

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

    /// The Redis configuration every process uses (API, CLI, sync): the connection string
    /// (StackExchange.Redis syntax: endpoints, ssl, user, password, timeouts), plus trust of a
    /// private certificate authority when Redis:CaCertificatePath (env Redis__CaCertificatePath)
    /// names its certificate (PEM or DER): the server's chain must end at that CA and the
    /// certificate must name the host connected to; TLS is then on. See docs/operations.md.
    /// <exception cref="InvalidOperationException">the CA file does not exist or is not a certificate.</exception>
    public static ConfigurationOptions RedisOptions(IConfiguration? configuration = null)
    {
        var options = ConfigurationOptions.Parse(Redis(configuration));
        if (Value(configuration, "Redis:CaCertificatePath", "Redis__CaCertificatePath") is { } ca)
        {
            if (!File.Exists(ca))
                throw new InvalidOperationException($"Redis:CaCertificatePath: no file '{ca}'");
            try
            {
                options.TrustIssuer(ca);
            }
            catch (System.Security.Cryptography.CryptographicException e)
            {
                throw new InvalidOperationException($"Redis:CaCertificatePath: '{ca}' is not a certificate ({e.Message})", e);
            }
            options.Ssl = true;
        }
        return options;
    }

    static string? Value(IConfiguration? configuration, string key, string env)
    {
        var value = configuration?[key];
        if (string.IsNullOrWhiteSpace(value))
            value = Environment.GetEnvironmentVariable(env);
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }
}
