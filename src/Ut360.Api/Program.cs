using Ut360.Api.Admin;
using Ut360.Api.Analytics;
using Ut360.Api.Bulk;
using Ut360.Api.Infrastructure;
using Ut360.Api.Profiles;
using Ut360.Api.Recommendations;
using Ut360.Api.Segments;

var builder = WebApplication.CreateBuilder(args);
builder.AddUt360Api();   // options, PostgreSQL, Redis, auth, rate limits, metrics, health, OpenAPI

var app = builder.Build();
app.UseUt360Pipeline();

app.MapOperations();     // /health/live, /health/ready, /metrics, /openapi/v1.json, /scalar
app.MapBulk();           // before the UC1 catch-all of the same prefix
app.MapRecommendations();
app.MapProfiles();
app.MapSegments();
app.MapSegmentSearch();  // campaign segments: service × risk × cluster × min_priority
app.MapAnalytics();
app.MapAdmin();
app.MapWebUi();          // wwwroot, SPA fallback to index.html

return app.RunService();   // 1 when it cannot start (the reason logged)

public partial class Program;
