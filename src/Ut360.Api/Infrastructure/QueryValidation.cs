using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;

namespace Ut360.Api.Infrastructure;

/// Checks the typed query parameters of the endpoint (integers, booleans) before binding, so a
/// value of the wrong type is a 400 ValidationProblem naming the parameter, read from the
/// handler's own signature rather than from the text of a binding exception. Ranges and
/// vocabularies stay with the handlers.
public sealed class QueryValidation(RequestDelegate next, IProblemDetailsService problems)
{
    sealed record Check(string Name, Func<string, bool> Parses, string Message);

    readonly ConcurrentDictionary<RouteEndpoint, Check[]> _checks = new();

    public Task InvokeAsync(HttpContext http)
    {
        if (!http.Request.QueryString.HasValue || http.GetEndpoint() is not RouteEndpoint endpoint)
            return next(http);
        foreach (var check in _checks.GetOrAdd(endpoint, ChecksOf))
        {
            if (!http.Request.Query.TryGetValue(check.Name, out var values))
                continue;
            foreach (var value in values)
                if (value is not null && !check.Parses(value))
                    return RejectAsync(http, check);
        }
        return next(http);
    }

    async Task RejectAsync(HttpContext http, Check check)
    {
        http.Response.StatusCode = StatusCodes.Status400BadRequest;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [check.Name] = [check.Message] })
            {
                Status = StatusCodes.Status400BadRequest,
            },
        });
    }

    // The handler's parameters that minimal APIs bind from the query by convention: simple
    // types that are not route values (services and HttpContext are not simple types).
    static Check[] ChecksOf(RouteEndpoint endpoint)
    {
        if (endpoint.Metadata.GetMetadata<MethodInfo>() is not { } method)
            return [];
        var route = endpoint.RoutePattern.Parameters.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var checks = new List<Check>();
        foreach (var p in method.GetParameters())
        {
            if (p.Name is null || route.Contains(p.Name))
                continue;
            var type = Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType;
            if (type == typeof(int))
                checks.Add(new(p.Name, s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out _), "Expected a whole number."));
            else if (type == typeof(long))
                checks.Add(new(p.Name, s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out _), "Expected a whole number."));
            else if (type == typeof(bool))
                checks.Add(new(p.Name, s => bool.TryParse(s, out _), "Expected true or false."));
        }
        return [.. checks];
    }
}
