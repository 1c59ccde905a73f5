using StackExchange.Redis;

namespace Ut360.Data.Sync;

/// Bulk writes through StackExchange.Redis the way its docs/PipelinesMultiplexers.md describes:
/// many *Async calls issued before any is awaited, so the multiplexer sends them back to back
/// and Redis answers them in one stream. At most Window commands are in flight; past that the
/// oldest are awaited (replies arrive in order, so the oldest is the first to be done). Every
/// reply is awaited, so an error reply (OOM, WRONGTYPE, a MOVED the library could not follow)
/// fails the run. Standalone and Cluster alike (the library routes each key to its slot's
/// master), over TLS, with the configuration's timeouts and certificate callbacks.
/// Not thread-safe: one per producer.
sealed class RedisBulk(CancellationToken ct) : IAsyncDisposable
{
    // About 25 MB of profile commands: enough to keep the socket busy while the oldest replies
    // come back, small enough that a server that stops reading fails the run at asyncTimeout.
    const int Window = 8192;
    readonly Queue<Task> _inFlight = new(Window + 1);

    public long Commands { get; private set; }

    public ValueTask AddAsync(Task command)
    {
        _inFlight.Enqueue(command);
        Commands++;
        return _inFlight.Count < Window ? ValueTask.CompletedTask : DrainAsync(Window / 2);
    }

    async ValueTask DrainAsync(int keep)
    {
        ct.ThrowIfCancellationRequested();
        while (_inFlight.Count > keep)
            await _inFlight.Dequeue();
    }

    /// Waits for every reply; throws the first error reply.
    public async Task CompleteAsync() => await DrainAsync(0);

    /// After a failure the rest of the replies are not waited for; their errors are observed so
    /// they do not surface later as unobserved task exceptions.
    public ValueTask DisposeAsync()
    {
        while (_inFlight.TryDequeue(out var t))
            _ = t.ContinueWith(static x => _ = x.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return ValueTask.CompletedTask;
    }
}
