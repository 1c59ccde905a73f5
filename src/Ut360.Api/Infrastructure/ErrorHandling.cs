using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace Ut360.Api.Infrastructure;

/// Turns the expected failures into ProblemDetails: a bad query value → 400 naming it;
/// an export whose index a sync replaced before its first byte → 409; PostgreSQL (or both
/// stores) unavailable → 503 with Retry-After. Anything else stays a 500.
public sealed class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (exception is BadHttpRequestException bad)
        {
            // Query values of the wrong type are caught by QueryValidation before binding; what
            // is left is the body (too large, or not the JSON the endpoint reads).
            var field = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "body" : "request";
            http.Response.StatusCode = bad.StatusCode;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = new HttpValidationProblemDetails(new Dictionary<string, string[]>
                {
                    [field] = [bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "The request body is too large." : "The value is not of the expected type."],
                })
                { Status = bad.StatusCode, Title = "One or more validation errors occurred." },
            });
        }
        if (exception is Segments.ExportVersionChangedException changed && !http.Response.HasStarted)
        {
            http.Response.StatusCode = StatusCodes.Status409Conflict;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails =
                {
                    Status = StatusCodes.Status409Conflict,
                    Title = "The list changed during the export",
                    Detail = $"A sync replaced {changed.Segment} while the export was read; ask again for the new version.",
                },
            });
        }
        if (IsUnavailable(exception))
        {
            logger.LogWarning("Data store unavailable: {Error}", exception.GetBaseException().Message);
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            http.Response.Headers.RetryAfter = "5";
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails =
                {
                    Status = StatusCodes.Status503ServiceUnavailable,
                    Title = "Data briefly unavailable",
                    Detail = "The record is not in the cache and the database cannot be reached; retry shortly.",
                },
            });
        }
        return false;
    }

    static bool IsUnavailable(Exception e) => e switch
    {
        NpgsqlException or TimeoutException => true,
        OperationCanceledException when e.InnerException is TimeoutException => true,
        AggregateException a => a.InnerExceptions.Any(IsUnavailable),
        _ => RedisCircuit.IsRedisFault(e),
    };

}
