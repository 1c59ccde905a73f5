using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Ut360.Api.Infrastructure;

/// The OpenAPI document (/openapi/v1.json): every outcome of every operation, the key scheme,
/// described tags. Linted by `@redocly/cli lint` in the tests (OpenApiTests).
public static class OpenApiSetup
{
    static readonly Dictionary<string, string> Tags = new()
    {
        ["Recommendations"] = "UC1: the recommendation of one subscriber, by encrypted ISDN or by phone number (role lookup).",
        ["Profiles"] = "UC5: the 360 profile of one subscriber (role lookup).",
        ["Segments"] = "UC2–UC4: subscribers of a service, risk level or cluster, paged (role analyst).",
        ["Exports"] = "Every ISDN of a segment as CSV or NDJSON, streamed (role campaign).",
        ["Bulk"] = "UC6: recommendations of a campaign list of up to 10,000 ISDNs (role campaign).",
        ["Analytics"] = "Aggregates by service, risk level and cluster, and the dataset totals (role analyst).",
        ["Admin"] = "Redis sync runs and cache counters (role admin).",
    };

    public static IServiceCollection AddUt360OpenApi(this IServiceCollection services) => services.AddOpenApi(o =>
    {
        o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "UT360 Recommendations API";
            doc.Info.Description = "Send the key in the X-Api-Key header. Roles: lookup, analyst, campaign, admin. See docs/api.md.";
            doc.Components ??= new OpenApiComponents();
            doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            doc.Components.SecuritySchemes[ApiKeyHandler.SchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyHandler.Header,
                Description = "An API key from Auth:Keys; its roles decide which endpoints it may call.",
            };
            // The API is wherever the document was read from: the origin of the first request
            // (with a trailing "/") is not kept in a document built once.
            doc.Servers = [new OpenApiServer { Url = "/", Description = "This service, where this document was read from." }];
            foreach (var tag in doc.Tags ?? new HashSet<OpenApiTag>())
                if (tag.Name is { } name && Tags.TryGetValue(name, out var description))
                    tag.Description = description;
            return Task.CompletedTask;
        });
        o.AddOperationTransformer(async (op, ctx, ct) =>
        {
            var path = ctx.Description.RelativePath ?? "";
            if (!path.StartsWith("api/", StringComparison.Ordinal))
                return;
            op.Responses ??= [];
            var problem = await ctx.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, ct);
            // Every endpoint behind a role names the key scheme, so the reference page asks for it,
            // and answers 401 without a valid key, 403 without the role, 429 over the key's rate.
            if (ctx.Description.ActionDescriptor.EndpointMetadata.OfType<IAuthorizeData>().Any())
            {
                op.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyHandler.SchemeName, ctx.Document)] = [] }];
                Add(op, StatusCodes.Status401Unauthorized, "No API key, or one this service does not know.", problem);
                Add(op, StatusCodes.Status403Forbidden, "The API key lacks the role this endpoint needs.", problem);
                Add(op, StatusCodes.Status429TooManyRequests, "Over the key's (or, without a key, the address's) rate limit.", problem, retryAfter: true);
            }
            // Whatever is not in Redis is read from PostgreSQL; when that is unreachable too.
            Add(op, StatusCodes.Status503ServiceUnavailable, "The data is not in the cache and the database cannot be reached; retry after Retry-After seconds.", problem, retryAfter: true);
        });
    });

    static void Add(OpenApiOperation op, int status, string description, IOpenApiSchema problem, bool retryAfter = false)
    {
        var code = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (op.Responses!.ContainsKey(code))
            return;
        op.Responses[code] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = problem } },
            Headers = retryAfter
                ? new Dictionary<string, IOpenApiHeader>
                {
                    ["Retry-After"] = new OpenApiHeader { Description = "Seconds to wait before retrying.", Schema = new OpenApiSchema { Type = JsonSchemaType.Integer } },
                }
                : null,
        };
    }
}
