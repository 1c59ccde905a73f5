using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.OutputCaching;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Metrics;
using StackExchange.Redis;
using Ut360.Api.Admin;
using Ut360.Api.Profiles;
using Ut360.Api.Recommendations;
using Ut360.Data.Sync;
using Ut360.Api.Segments;
using Ut360.Data;
using Ut360.Data.Domain;
using Ut360.Data.Redis;

namespace Ut360.Api.Infrastructure;

public static class ServiceSetup
{
    /// Everything the API needs, validated at start.
    public static WebApplicationBuilder AddUt360Api(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var config = builder.Configuration;
        // `./ut360 up` writes the local demo key here (see scripts/up.sh).
        if (config["ApiKeysFile"] is { Length: > 0 } keysFile)
            config.AddJsonFile(keysFile, optional: true, reloadOnChange: false);

        // Requests run on the socket's own I/O thread instead of hopping to the thread pool: no
        // handler blocks (every wait is awaited), and a cached UC1 answer then costs one thread
        // wake-up instead of two (bench/results/api.md).
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = config.GetValue("Api:InlineScheduling", true));

        // Background work (near-cache checks, the sync schedule, gauges) logs its faults and
        // retries; none of it may take the request path down with it.
        services.Configure<HostOptions>(o => o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.Ignore);

        services.AddOptions<ApiOptions>().BindConfiguration("Api").ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<RedisOptions>().BindConfiguration("Redis").ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ConnectionStringOptions>().BindConfiguration("ConnectionStrings").ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<Ut360Options>().BindConfiguration("Ut360").ValidateDataAnnotations()
            .Validate<IHostEnvironment>((o, env) => !env.IsProduction() || !string.IsNullOrWhiteSpace(o.IsdnKey), Ut360Options.KeyRequired)
            .ValidateOnStart();
        services.AddOptions<AuthOptions>().BindConfiguration("Auth")
            .Validate(o => AuthOptions.Check(o) is null, "Auth:Keys is invalid (each key ≥ 16 characters, roles among lookup, analyst, campaign, admin, keys distinct).")
            .ValidateOnStart();

        services.AddSingleton(sp =>
        {
            var csb = new NpgsqlConnectionStringBuilder(Ut360Settings.InUtc(sp.GetRequiredService<IOptions<ConnectionStringOptions>>().Value.Postgres!));
            // Fail fast when PostgreSQL is down: the caller gets a 503 to retry, not a 15 s wait.
            if (csb.Timeout == 15)   // Npgsql's default, i.e. not chosen by the operator
                csb.Timeout = 3;
            return NpgsqlDataSource.Create(csb.ConnectionString);
        });
        services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<RedisOptions>>().Value;
            var c = Ut360Settings.RedisOptions(config);
            c.AbortOnConnectFail = false;              // start even when Redis is down
            c.BacklogPolicy = BacklogPolicy.FailFast;  // while disconnected, fail at once → PostgreSQL
            c.AsyncTimeout = c.SyncTimeout = o.TimeoutMs;
            // Async timeouts are only noticed on a heartbeat (1 s by default): check at least twice
            // per budget, so a slow Redis costs a request about its budget, not a second.
            c.HeartbeatInterval = TimeSpan.FromMilliseconds(Math.Clamp(o.TimeoutMs / 2, 50, 1_000));
            // The first connect waits this long (a busy host can take over a second); requests made
            // before it completes would see Redis as down and start on the PostgreSQL fallback.
            c.ConnectTimeout = Math.Max(5_000, o.TimeoutMs);
            c.ReconnectRetryPolicy = new LinearRetry(1_000);
            return ConnectionMultiplexer.Connect(c);
        });
        services.AddSingleton(sp => new RedisKeys(sp.GetRequiredService<IOptions<RedisOptions>>().Value.Namespace));
        services.AddSingleton(sp =>
        {
            var key = sp.GetRequiredService<IOptions<Ut360Options>>().Value.IsdnKey;
            if (string.IsNullOrWhiteSpace(key) || string.Equals(key, IsdnCipher.DemoKeyHex, StringComparison.OrdinalIgnoreCase))
                sp.GetRequiredService<ILogger<IsdnCipher>>().LogWarning("ISDNs are encrypted with the public demo key: fit for demo data only; set Ut360:IsdnKey for real numbers.");
            return new IsdnCipher(key);
        });

        services.AddOptions<NearCacheOptions>().BindConfiguration("NearCache").ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => NearCacheFor<RecommendationView>(sp, "recommendations", o => o.Recommendations));
        services.AddSingleton(sp => NearCacheFor<ProfileView>(sp, "profiles", o => o.Profiles));
        services.AddSingleton(sp => NearCacheFor<SegmentReader.Ranked>(sp, "pages", o => o.Pages));
        services.AddSingleton<NearCacheInvalidator>();
        services.AddHostedService(sp => sp.GetRequiredService<NearCacheInvalidator>());

        services.AddSingleton<ApiMetrics>();
        services.AddSingleton<RedisCircuit>();
        services.AddSingleton<RecommendationStore>();
        services.AddSingleton<ProfileStore>();
        services.AddSingleton<SegmentReader>();
        services.AddSingleton<IndexRebuilder>();
        services.AddSingleton<ExportWriter>();
        services.AddSingleton<Bulk.BulkAnswerCache>();
        services.AddSingleton<CursorSigner>();
        services.AddSingleton<SyncRunner>();
        // The periodic refresh (Sync:Schedule, every 6 hours by default) in the API's own namespace.
        services.AddUt360Sync(config);
        services.PostConfigure<SyncOptions>(s => s.Namespace = config["Redis:Namespace"] ?? s.Namespace);
        services.AddHostedService<SyncStatusPoller>();

        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            // The path of a by-msisdn request holds a phone number; it never goes into a response.
            c.ProblemDetails.Instance = null;
        });
        services.AddExceptionHandler<ApiExceptionHandler>();
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJson.Default);
            o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
            // Numbers are JSON numbers both ways (the Web default also reads "12" as 12, which
            // the OpenAPI document then shows as "number | string").
            o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        });

        services.AddSingleton<ApiKeyStore>();
        services.AddAuthentication(ApiKeyHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Roles.Lookup, p => p.RequireRole(Roles.Lookup))
            .AddPolicy(Roles.Analyst, p => p.RequireRole(Roles.Analyst))
            .AddPolicy(Roles.Campaign, p => p.RequireRole(Roles.Campaign))
            .AddPolicy(Roles.Admin, p => p.RequireRole(Roles.Admin));
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<ApiOptions>>((o, api) =>
        {
            var limits = api.Value;
            static TokenBucketRateLimiterOptions Bucket(int burst, int perSecond) => new()
            {
                TokenLimit = burst,
                TokensPerPeriod = perSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            };
            var bucket = Bucket(limits.RateLimitBurst, limits.RateLimitPerSecond);
            var anonymous = Bucket(limits.AnonymousRateLimitBurst, limits.AnonymousRateLimitPerSecond);
            Func<string, TokenBucketRateLimiterOptions> perKey = _ => bucket;   // made once, not per request
            Func<string, TokenBucketRateLimiterOptions> perAddress = _ => anonymous;
            // Keyed requests by key; everything else (no key, a wrong key) by client address.
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                http.User.Identity is { IsAuthenticated: true, Name: { } key }
                    ? RateLimitPartition.GetTokenBucketLimiter(key, perKey)
                    : RateLimitPartition.GetTokenBucketLimiter("address:" + http.Connection.RemoteIpAddress, perAddress));
            o.OnRejected = async (ctx, ct) =>
            {
                var http = ctx.HttpContext;
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = "1";
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails =
                    {
                        Status = 429,
                        Title = "Rate limit exceeded",
                        Detail = http.User.Identity is { IsAuthenticated: true }
                            ? "This API key made more requests than its rate limit allows; retry after a second."
                            : "This address made more requests without a valid API key than allowed; retry after a second.",
                    },
                });
            };
        });

        services.AddHealthChecks()
            .AddCheck<PostgresHealthCheck>("postgres", tags: ["ready"])
            .AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);

        services.AddOpenTelemetry().WithMetrics(m => m
            // System.Runtime: the runtime's own GC, JIT and thread-pool figures (collections,
            // pause time, heap sizes), what an operator looks at first when the tail moves.
            .AddMeter(ApiMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.RateLimiting", "System.Runtime")
            // Sub-millisecond buckets: the default ones start at 5 ms, above UC1's whole budget.
            .AddView("http.server.request.duration", new ExplicitBucketHistogramConfiguration
            {
                Boundaries = [0.00025, 0.0005, 0.00075, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            })
            .AddPrometheusExporter());

        // The OpenAPI document does not change while the process runs: built once, then served
        // from the output cache (building it costs milliseconds of CPU).
        services.AddOutputCache(o => o.AddPolicy(OpenApiCache, new BuiltOnce()));
        services.AddUt360OpenApi();
        return builder;
    }

    public const string OpenApiCache = "openapi";

    /// Keeps a 200 answer for the life of the process, keyed or not (the default policy skips
    /// requests that carry a key; the document holds nothing that depends on it).
    sealed class BuiltOnce : IOutputCachePolicy
    {
        public ValueTask CacheRequestAsync(OutputCacheContext context, CancellationToken cancellation)
        {
            context.EnableOutputCaching = context.AllowCacheLookup = context.AllowCacheStorage = context.AllowLocking = true;
            context.ResponseExpirationTimeSpan = TimeSpan.FromDays(365);
            return ValueTask.CompletedTask;
        }

        public ValueTask ServeFromCacheAsync(OutputCacheContext context, CancellationToken cancellation) => ValueTask.CompletedTask;

        public ValueTask ServeResponseAsync(OutputCacheContext context, CancellationToken cancellation)
        {
            if (context.HttpContext.Response.StatusCode != StatusCodes.Status200OK)
                context.AllowCacheStorage = false;
            return ValueTask.CompletedTask;
        }
    }

    static NearCache<T> NearCacheFor<T>(IServiceProvider sp, string name, Func<NearCacheOptions, int> capacity) where T : class
    {
        var o = sp.GetRequiredService<IOptions<NearCacheOptions>>().Value;
        return new NearCache<T>(name, capacity(o), TimeSpan.FromSeconds(o.MaxAgeSeconds));
    }
}
