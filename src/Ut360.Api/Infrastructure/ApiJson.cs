using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using Ut360.Api.Admin;
using Ut360.Api.Analytics;
using Ut360.Api.Bulk;
using Ut360.Api.Profiles;
using Ut360.Api.Recommendations;
using Ut360.Api.Segments;
using Ut360.Data.Redis;

namespace Ut360.Api.Infrastructure;

// Every type the API reads or writes, source-generated: no reflection, no warm-up cost.
// The same settings as the options the API serialises with (Web defaults, snake_case), so
// System.Text.Json takes the generated fast path instead of walking property metadata.
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(RecommendationView))]
[JsonSerializable(typeof(ProfileView))]
[JsonSerializable(typeof(ServicePage))]
[JsonSerializable(typeof(SegmentPage))]
[JsonSerializable(typeof(IsdnItem))]
[JsonSerializable(typeof(BulkRequest))]
[JsonSerializable(typeof(BulkItem))]
[JsonSerializable(typeof(BulkResponse))]
[JsonSerializable(typeof(ServiceRevenue[]))]
[JsonSerializable(typeof(RiskBucket[]))]
[JsonSerializable(typeof(ClusterFigures[]))]
[JsonSerializable(typeof(MetaStats))]
[JsonSerializable(typeof(SyncRunView[]))]
[JsonSerializable(typeof(SyncStarted))]
[JsonSerializable(typeof(CacheStats))]
[JsonSerializable(typeof(BasicSection))]
[JsonSerializable(typeof(ArpuStatsSection))]
[JsonSerializable(typeof(RevenueBreakdownSection))]
[JsonSerializable(typeof(TopupBehaviorSection))]
[JsonSerializable(typeof(RiskAssessmentSection))]
[JsonSerializable(typeof(KpiScoresSection))]
[JsonSerializable(typeof(MonthlyArpuItem))]
[JsonSerializable(typeof(InsightsSection))]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(HttpValidationProblemDetails))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonObject))]
[JsonSerializable(typeof(List<string>))]
public sealed partial class ApiJson : JsonSerializerContext
{
    /// Vietnamese text stays readable UTF-8 in responses rather than \u escapes.
    public static ApiJson Web { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
