using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Ut360.Api.Infrastructure;
using Ut360.Api.Segments;
using Ut360.Data.Sync;
using Xunit.Abstractions;
using static Ut360.Tests.Sync.SyncTestKit;

namespace Ut360.Tests.Api;

/// 10,000 subscribers, ~8,400 at LOW risk: a LOW export is ~220 KB of ISDNs (several SSCAN
/// pages), far more than the in-memory server buffers ahead of a client that stops reading.
public class ExportVersionFactory() : SyncedApiFactory(10_000);

public sealed class ExportVersionClusterFactory : ExportVersionFactory
{
    protected override string? RedisConnectionString => ClusterFactAttribute.ConnectionString;
}

/// Issue 16, item 3: an export in progress when a sync publishes either finishes from the
/// version it began with or is aborted, so that the client sees a failed transfer; it never
/// reads a complete-looking 200 that mixes two versions.
public sealed class ExportVersionTests(ExportVersionFactory api, ITestOutputHelper output) : IClassFixture<ExportVersionFactory>
{
    [Theory]
    [InlineData("/api/v1/risk/LOW/export")]
    [InlineData("/api/v1/risk/LOW/export?columns=all")]
    public Task An_export_spanning_a_publish_is_aborted_or_entirely_of_its_first_version(string path) =>
        ExportVersionCases.SpanningAPublishAsync(api, path, output);

    // A publish between the export's first version read and its first byte: the status can
    // still change, so the client gets a 409 ProblemDetails, not a 500.
    [Fact]
    public async Task A_publish_before_the_first_byte_is_a_409_problem()
    {
        var handler = new ApiExceptionHandler(api.Services.GetRequiredService<IProblemDetailsService>(), NullLogger<ApiExceptionHandler>.Instance);
        var http = new DefaultHttpContext { RequestServices = api.Services };
        var body = new MemoryStream();
        http.Response.Body = body;

        Assert.True(await handler.TryHandleAsync(http, new ExportVersionChangedException("risk:LOW"), CancellationToken.None));

        Assert.Equal(StatusCodes.Status409Conflict, http.Response.StatusCode);
        var problem = JsonDocument.Parse(body.ToArray()).RootElement;
        Assert.Equal(409, problem.GetProperty("status").GetInt32());
        Assert.Contains("risk:LOW", problem.GetProperty("detail").GetString());
    }
}

public sealed class ExportVersionClusterTests(ExportVersionClusterFactory api, ITestOutputHelper output) : IClassFixture<ExportVersionClusterFactory>
{
    [ClusterFact]
    public Task On_the_cluster_an_isdn_export_spanning_a_publish_is_aborted_or_entirely_of_its_first_version() =>
        ExportVersionCases.SpanningAPublishAsync(api, "/api/v1/risk/LOW/export", output);

    [ClusterFact]
    public Task On_the_cluster_an_export_of_every_column_spanning_a_publish_is_aborted_or_entirely_of_its_first_version() =>
        ExportVersionCases.SpanningAPublishAsync(api, "/api/v1/risk/LOW/export?columns=all", output);
}

static class ExportVersionCases
{
    public static async Task SpanningAPublishAsync(ExportVersionFactory api, string path, ITestOutputHelper output)
    {
        var before = (await IsdnsAsync(api.Db, "bad_debt_risk = 'LOW'")).Select(Cell).ToHashSet();
        using var client = api.Client(ApiFactory.CampaignKey);
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();
        var start = new byte[4096];
        await body.ReadExactlyAsync(start);

        // A third of LOW moves to MEDIUM and is published while the export waits for the client.
        try
        {
            await ExecAsync(api.Db, "UPDATE recommendations SET bad_debt_risk = 'MEDIUM', updated_at = now() WHERE bad_debt_risk = 'LOW' AND id % 3 = 0");
            Assert.Equal(SyncOutcome.Succeeded, (await FullAsync(api.Db, api.Redis)).Outcome);

            var rest = new MemoryStream();
            Exception? failure = null;
            try
            {
                await body.CopyToAsync(rest);
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                failure = e;
            }
            if (failure is not null)
            {
                output.WriteLine($"aborted after {start.Length + rest.Length:N0} bytes: {failure.GetType().Name} {failure.Message}");
                return;
            }

            // Not aborted: then every line is of the first version (the rows of a version-2
            // record would say MEDIUM, and the list would lack a third of the members).
            var text = Encoding.UTF8.GetString([.. start, .. rest.ToArray()]).TrimStart('\uFEFF');
            var rows = text.TrimEnd('\n').Split('\n').Skip(1).Select(l => l.Split(',')).ToList();
            Assert.Equal(before.Order(StringComparer.Ordinal), rows.Select(r => r[0]).Order(StringComparer.Ordinal));
            if (path.Contains("columns=all", StringComparison.Ordinal))
                Assert.All(rows, r => Assert.Equal("LOW", r[6]));
            output.WriteLine($"finished from its first version: {rows.Count:N0} rows");
        }
        finally
        {
            await ExecAsync(api.Db, "UPDATE recommendations SET bad_debt_risk = 'LOW', updated_at = now() WHERE bad_debt_risk = 'MEDIUM' AND id % 3 = 0 AND id % 7 <> 0");
            Assert.Equal(SyncOutcome.Succeeded, (await FullAsync(api.Db, api.Redis)).Outcome);
        }
    }

    // The export writes an ISDN starting with + as '+… (a spreadsheet would take it for a formula).
    static string Cell(string isdn) => isdn.StartsWith('+') ? "'" + isdn : isdn;
}
