using System.Collections.Frozen;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Ut360.Api.Infrastructure;

/// The four roles of docs/api.md; each is also the name of the policy that requires it.
public static class Roles
{
    public const string Lookup = "lookup";
    public const string Analyst = "analyst";
    public const string Campaign = "campaign";
    public const string Admin = "admin";
    public static readonly string[] All = [Lookup, Analyst, Campaign, Admin];
}

/// "Auth" section: Auth:Keys:{name}:Key and Auth:Keys:{name}:Roles.
public sealed class AuthOptions
{
    public Dictionary<string, ApiKeyEntry> Keys { get; set; } = new(StringComparer.Ordinal);

    public sealed class ApiKeyEntry
    {
        public string Key { get; set; } = "";
        public string[] Roles { get; set; } = [];
    }

    public static string? Check(AuthOptions o)
    {
        foreach (var (name, entry) in o.Keys)
        {
            if (entry.Key.Length < 16)
                return $"Auth:Keys:{name}:Key must be at least 16 characters.";
            if (entry.Roles.FirstOrDefault(r => Array.IndexOf(Infrastructure.Roles.All, r) < 0) is { } bad)
                return $"Auth:Keys:{name}:Roles has unknown role '{bad}' (known: {string.Join(", ", Infrastructure.Roles.All)}).";
        }
        if (o.Keys.Values.GroupBy(k => k.Key).FirstOrDefault(g => g.Count() > 1) is not null)
            return "Two Auth:Keys entries share the same key.";
        return null;
    }
}

/// The configured keys, each with its authentication ticket built once: authenticating a
/// request is one dictionary lookup and no allocation.
public sealed class ApiKeyStore
{
    readonly FrozenDictionary<string, AuthenticationTicket> _tickets;

    public ApiKeyStore(IOptions<AuthOptions> options) =>
        _tickets = options.Value.Keys.ToFrozenDictionary(
            kv => kv.Value.Key,
            kv => new AuthenticationTicket(
                new ClaimsPrincipal(new ClaimsIdentity(
                    [new Claim(ClaimTypes.Name, kv.Key), .. kv.Value.Roles.Select(r => new Claim(ClaimTypes.Role, r))],
                    ApiKeyHandler.SchemeName)),
                ApiKeyHandler.SchemeName),
            StringComparer.Ordinal);

    public int Count => _tickets.Count;

    public bool TryGet(string key, out AuthenticationTicket ticket) => _tickets.TryGetValue(key, out ticket!);
}

/// Authenticates X-Api-Key; answers 401/403 as ProblemDetails.
public sealed class ApiKeyHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys, IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string Header = "X-Api-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var value = Request.Headers[Header];
        if (value.Count == 0)
            return Task.FromResult(AuthenticateResult.NoResult());
        return Task.FromResult(value.Count == 1 && keys.TryGet(value[0]!, out var ticket)
            ? AuthenticateResult.Success(ticket)
            : AuthenticateResult.Fail("Unknown API key"));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = $"{SchemeName} header=\"{Header}\"";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "API key required",
                Detail = Request.Headers.ContainsKey(Header) ? "The X-Api-Key header holds no known key." : "Send a key in the X-Api-Key header.",
            },
        });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = StatusCodes.Status403Forbidden,
                Title = "Role missing",
                Detail = "This API key lacks the role this endpoint requires.",
            },
        });
    }
}
