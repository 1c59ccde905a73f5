using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Ut360.Data.Loading;

/// One load at a time per database: a session advisory lock on the loader's connection
/// (DataLoader.LoadLockKey), freed by the server when the session ends.
///
/// A load killed mid-statement leaves its backend rolling the transaction back, holding the lock
/// for seconds, and a retry would be told "another load is running" although none is. So:
///  - the loader's session sets client_connection_check_interval, so a backend whose client died
///    while it ran a long statement notices within a second instead of at the statement's end;
///  - the session's application_name names the host and process id of the loader; a retry that
///    finds the lock held by a loader of this host whose process no longer exists waits for the
///    rollback (up to MaxRollbackWait) and says how long it waited.
static class LoadLock
{
    public static readonly TimeSpan MaxRollbackWait = TimeSpan.FromMinutes(2);
    const string Prefix = "ut360 load ";

    const string HolderSql = """
        SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.classid = @hi::oid AND l.objid = @lo::oid
        """;

    /// Takes the lock on conn. Returns how long it waited for a dead loader's rollback (null when
    /// the lock was free).
    /// <exception cref="LoadCheckException">a live load holds it, or a dead one's rollback took
    /// longer than MaxRollbackWait.</exception>
    public static async Task<TimeSpan?> AcquireAsync(NpgsqlConnection conn, long key, CancellationToken ct)
    {
        await using (var set = new NpgsqlCommand(
            $"SET client_connection_check_interval = '1s'; SET application_name = '{Prefix}{Environment.MachineName.Replace("'", "", StringComparison.Ordinal)} {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}'", conn))
            await set.ExecuteNonQueryAsync(ct);
        if (await TryAsync(conn, key, ct))
            return null;
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var holder = await HolderAsync(conn, key, ct);
            if (holder is not null && !IsDeadLocalLoader(holder))
                throw new LoadCheckException("another load is running against this database; try again when it has finished");
            if (holder is not null && waited.Elapsed > MaxRollbackWait)
                throw new LoadCheckException(
                    $"the previous load is still rolling back after {waited.Elapsed.TotalSeconds:0.0} s (its process is gone, PostgreSQL is undoing its transaction); try again later");
            if (await TryAsync(conn, key, ct))
                return waited.Elapsed;
            await Task.Delay(100, ct);
        }
    }

    static async Task<bool> TryAsync(NpgsqlConnection conn, long key, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(@k)", conn) { CommandTimeout = 0 };
        cmd.Parameters.AddWithValue("k", key);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    static async Task<string?> HolderAsync(NpgsqlConnection conn, long key, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(HolderSql, conn);
        // pg_locks shows a bigint advisory key as two 32-bit halves.
        cmd.Parameters.AddWithValue("hi", (key >> 32) & 0xFFFFFFFFL);
        cmd.Parameters.AddWithValue("lo", key & 0xFFFFFFFFL);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    // "ut360 load {host} {pid}" of this host whose process has ended.
    static bool IsDeadLocalLoader(string applicationName)
    {
        if (!applicationName.StartsWith(Prefix, StringComparison.Ordinal))
            return false;
        var parts = applicationName[Prefix.Length..].Split(' ');
        if (parts.Length != 2 || parts[0] != Environment.MachineName || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var pid))
            return false;
        try
        {
            using var p = Process.GetProcessById(pid);
            return p.HasExited;
        }
        catch (ArgumentException)
        {
            return true;   // no such process
        }
    }
}
