using System.Collections.Concurrent;

namespace Ut360.Api.Infrastructure;

/// Concurrent misses on one key share one load (one PostgreSQL query): the first caller starts
/// it, the others await the same task. The load runs under its own timeout, not the first
/// caller's request token, so one client hanging up does not fail the others.
public sealed class SingleFlight<T>(ApiMetrics metrics)
{
    static readonly TimeSpan LoadTimeout = TimeSpan.FromSeconds(10);
    readonly ConcurrentDictionary<string, Task<T>> _inflight = new(StringComparer.Ordinal);

    public Task<T> RunAsync<TState>(string key, TState state, Func<string, TState, CancellationToken, Task<T>> load, CancellationToken ct)
    {
        if (_inflight.TryGetValue(key, out var running))
        {
            metrics.Coalesce();
            return running.WaitAsync(ct);
        }
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = _inflight.GetOrAdd(key, tcs.Task);
        if (task != tcs.Task)
        {
            metrics.Coalesce();
            return task.WaitAsync(ct);
        }
        _ = RunCoreAsync(key, state, load, tcs);
        return tcs.Task.WaitAsync(ct);
    }

    async Task RunCoreAsync<TState>(string key, TState state, Func<string, TState, CancellationToken, Task<T>> load, TaskCompletionSource<T> tcs)
    {
        try
        {
            using var timeout = new CancellationTokenSource(LoadTimeout);
            tcs.TrySetResult(await load(key, state, timeout.Token));
        }
        catch (Exception e)
        {
            tcs.TrySetException(e);
        }
        finally
        {
            _inflight.TryRemove(new KeyValuePair<string, Task<T>>(key, tcs.Task));
        }
    }
}
