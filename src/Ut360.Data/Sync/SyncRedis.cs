using Microsoft.Extensions.Configuration;

namespace Ut360.Data.Sync;

public static class SyncRedis
{
    /// The configured Redis with admin commands enabled: the sync reads CONFIG (listpack limits),
    /// INFO (used_memory) and SCANs each master for its own leftover keys.
    public static string ConnectionString(IConfiguration? configuration)
    {
        var cs = Ut360Settings.Redis(configuration);
        return cs.Contains("allowAdmin", StringComparison.OrdinalIgnoreCase) ? cs : cs + ",allowAdmin=true";
    }
}
