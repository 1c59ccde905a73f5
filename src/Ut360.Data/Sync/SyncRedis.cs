using Microsoft.Extensions.Configuration;
using StackExchange.Redis;

namespace Ut360.Data.Sync;

public static class SyncRedis
{
    /// The configured Redis (Ut360Settings.RedisOptions: TLS, CA trust, ACL user) with admin
    /// commands enabled: the sync reads CONFIG (listpack limits, lazy freeing), INFO
    /// (used_memory, evicted_keys) and SCANs each master for its own leftover keys.
    public static ConfigurationOptions Options(IConfiguration? configuration)
    {
        var options = Ut360Settings.RedisOptions(configuration);
        options.AllowAdmin = true;
        // Bulk writes keep thousands of commands in flight; on a busy machine the default 5 s
        // can pass before the last of them is answered. An operator's own setting stands.
        if (!Ut360Settings.Redis(configuration).Contains("asyncTimeout", StringComparison.OrdinalIgnoreCase))
            options.AsyncTimeout = 60_000;
        return options;
    }
}
