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
        app.Use(SecurityHeaders);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // The web UI's files; API calls skip the file-system probe.
        app.UseWhen(http => !http.Request.Path.StartsWithSegments("/api"), web => web.UseDefaultFiles().UseStaticFiles());
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.UseMiddleware<QueryValidation>();
        app.UseWhen(http => http.Request.Path.StartsWithSegments("/openapi"), openApi => openApi.UseOutputCache());
        return app;
    }

    /// The web UI's policy: its own scripts, styles and API only; no framing. Inline styles
    /// stay allowed for the components' style attributes.
    const string UiPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        + "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    /// Answers with subscriber data (every /api one) are never stored by a browser or proxy;
    /// nothing is sniffed into another type; the UI runs under its content policy. The Scalar
    /// reference page is left without a policy: it configures itself with an inline script.
    static Task SecurityHeaders(HttpContext http, RequestDelegate next)
    {
        var headers = http.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        if (http.Request.Path.StartsWithSegments("/api"))
            headers.CacheControl = "no-store";
        else if (!http.Request.Path.StartsWithSegments("/scalar"))
        {
            headers.ContentSecurityPolicy = UiPolicy;
            headers.XFrameOptions = "DENY";
        }
        return next(http);
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
        app.MapOpenApi().CacheOutput(ServiceSetup.OpenApiCache);
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
