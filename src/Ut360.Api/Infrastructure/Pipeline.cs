using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Scalar.AspNetCore;

namespace Ut360.Api.Infrastructure;

public static class Pipeline
{
    /// Middleware order: errors → static web files (open) → key → rate limit (per key, so after
    /// authentication) → roles.
    public static WebApplication UseUt360Pipeline(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // The web UI's files; API calls skip the file-system probe.
        app.UseWhen(http => !http.Request.Path.StartsWithSegments("/api"), web => web.UseDefaultFiles().UseStaticFiles());
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        return app;
    }

    /// Health, metrics, the OpenAPI document and its reference page: open to all.
    public static WebApplication MapOperations(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthResponse.WriteAsync })
            .DisableRateLimiting();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains("ready"),
            ResponseWriter = HealthResponse.WriteAsync,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        }).DisableRateLimiting();
        app.MapPrometheusScrapingEndpoint("/metrics").DisableRateLimiting();
        app.MapOpenApi();
        app.MapScalarApiReference(o => o.WithTitle("UT360 Recommendations API"));
        return app;
    }

    /// The React UI (built into wwwroot) for every path that is not the API's: unknown /api
    /// paths stay 404 ProblemDetails instead of becoming index.html.
    public static WebApplication MapWebUi(this WebApplication app)
    {
        app.MapFallback("/api/{**path}", () => TypedResults.Problem(title: "No such endpoint", statusCode: StatusCodes.Status404NotFound));
        app.MapFallbackToFile("index.html");
        return app;
    }
}
