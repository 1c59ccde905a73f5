using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace Ut360.Api.Infrastructure;

/// <summary>
/// Redis behind a Polly circuit breaker, so a failing or stalled Redis costs requests one budget
/// (Redis:TimeoutMs) each only until the circuit opens; then they go straight to PostgreSQL.
/// </summary>
/// <remarks>
/// The circuit opens when, within one second, at least Redis:BreakerFailures commands ran and
/// half of them failed with a Redis fault (<see cref="IsRedisFault"/>); it stays open
/// Redis:BreakerOpenMs, then lets one command through (half-open) whose outcome closes or
/// re-opens it. A disconnected multiplexer fails its commands at once (BacklogPolicy.FailFast),
/// so it opens the circuit without a timeout being waited for.
/// </remarks>
public sealed class RedisCircuit
{
    readonly ResiliencePipeline _pipeline;
    readonly CircuitBreakerStateProvider _state = new();
    readonly ApiMetrics _metrics;

    public RedisCircuit(IOptions<RedisOptions> options, ApiMetrics metrics, ILogger<RedisCircuit> logger)
    {
        _metrics = metrics;
        var openFor = TimeSpan.FromMilliseconds(options.Value.BreakerOpenMs);
        _pipeline = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsRedisFault(e)),
                FailureRatio = 0.5,
                MinimumThroughput = Math.Max(2, options.Value.BreakerFailures),
                SamplingDuration = TimeSpan.FromSeconds(1),
                // BreakDuration itself refuses less than 500 ms; the tests open it for 200 ms.
                BreakDurationGenerator = _ => ValueTask.FromResult(openFor),
                StateProvider = _state,
                OnOpened = args =>
                {
                    logger.LogWarning("Redis circuit open for {Ms} ms: requests are served from PostgreSQL ({Error})",
                        args.BreakDuration.TotalMilliseconds, args.Outcome.Exception?.GetBaseException().Message);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    logger.LogInformation("Redis circuit closed: requests read Redis again");
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>True while requests bypass Redis (open, or half-open with its probe in flight).</summary>
    public bool IsOpen => _state.CircuitState != CircuitState.Closed;

    /// <summary>Runs <paramref name="command"/> against Redis through the circuit.</summary>
    /// <returns>
    /// (true, what the command returned) when Redis answered; (false, default) when it did not:
    /// the circuit is open, or the command failed with a Redis fault (counted towards opening it
    /// and in ut360.redis.failures). The caller then serves from PostgreSQL.
    /// </returns>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled.</exception>
    /// <remarks>Any other exception of the command (a bug, not a Redis fault) is thrown as it was.</remarks>
    public async ValueTask<(bool Answered, T Result)> TryAsync<TState, T>(Func<TState, Task<T>> command, TState state, CancellationToken ct)
    {
        var context = ResilienceContextPool.Shared.Get(ct);
        try
        {
            var outcome = await _pipeline.ExecuteOutcomeAsync(static async (_, s) =>
            {
                try
                {
                    return Outcome.FromResult(await s.command(s.state));
                }
                catch (Exception e)
                {
                    return Outcome.FromException<T>(e);
                }
            }, context, (command, state));
            switch (outcome.Exception)
            {
                case null:
                    return (true, outcome.Result!);
                case BrokenCircuitException:
                    return (false, default!);
                case var e when IsRedisFault(e):
                    _metrics.RedisFailure();
                    return (false, default!);
                default:
                    outcome.ThrowIfException();
                    return (false, default!);
            }
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Exceptions that mean "Redis is unavailable", as opposed to a bug.</summary>
    public static bool IsRedisFault(Exception e) => e switch
    {
        RedisConnectionException or RedisTimeoutException or TimeoutException or ObjectDisposedException => true,
        RedisServerException s => s.Message.StartsWith("LOADING", StringComparison.Ordinal)
            || s.Message.StartsWith("BUSY", StringComparison.Ordinal) || s.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
            || s.Message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal) || s.Message.StartsWith("OOM", StringComparison.Ordinal)
            || s.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal),
        AggregateException a => a.InnerException is { } inner && IsRedisFault(inner),
        _ => false,
    };
}
