using Microsoft.Extensions.Configuration;

namespace Ut360.Data.Sync;

public static class SyncRedis
{
    /// The configured Redis with admin commands enabled: the sync reads CONFIG (listpack limits),
    /// INFO (used_memory) and SCANs each master for its own leftover keys.
    public static string ConnectionString(IConfiguration? configuration)
    {
        var cs = Ut360Settings.Redis(configuration);
        if (!cs.Contains("allowAdmin", StringComparison.OrdinalIgnoreCase))
            cs += ",allowAdmin=true";
        // Bulk writes keep thousands of commands in flight; on a busy machine the default 5 s
        // can pass before the last of them is answered.
        if (!cs.Contains("asyncTimeout", StringComparison.OrdinalIgnoreCase))
            cs += ",asyncTimeout=60000";
        return cs;
    }
}
