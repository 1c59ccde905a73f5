using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Ut360.Tests.Api;

public sealed class OpenApiTests(LookupFactory api) : IClassFixture<LookupFactory>
{
    static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "redocly.yaml")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("redocly.yaml not found above " + AppContext.BaseDirectory);
    }

    async Task<JsonElement> DocumentAsync()
    {
        using var client = api.Client(key: null);
        return await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
    }

    [Fact]
    public async Task Every_operation_declares_its_failures_and_the_key_it_needs()
    {
        var doc = await DocumentAsync();
        var operations = doc.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(o => (Path: p.Name, Op: o.Value))).ToList();
        Assert.NotEmpty(operations);
        foreach (var (path, op) in operations)
        {
            var responses = op.GetProperty("responses");
            foreach (var status in new[] { "401", "403", "429", "503" })
                Assert.True(responses.TryGetProperty(status, out _), $"{path} declares no {status}");
            Assert.True(op.TryGetProperty("security", out _), $"{path} names no security scheme");
            Assert.True(responses.EnumerateObject().Any(r => r.Name.StartsWith('2')), $"{path} declares no success");
        }
        var paths = doc.GetProperty("paths");
        Assert.True(paths.GetProperty("/api/v1/recommendations/{isdn}").GetProperty("get").GetProperty("responses").TryGetProperty("404", out _));
        Assert.True(paths.GetProperty("/api/v1/admin/sync").GetProperty("post").GetProperty("responses").TryGetProperty("409", out _));
        Assert.True(paths.GetProperty("/api/v1/recommendations/bulk").GetProperty("post").GetProperty("responses").TryGetProperty("413", out _));
        Assert.True(paths.GetProperty("/api/v1/segments/export").GetProperty("get").GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("text/csv", out _));
        Assert.True(paths.GetProperty("/api/v1/risk/{level}/export").GetProperty("get").GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("text/csv", out _));
        // UC1's success is the typed record, its numbers plain numbers.
        Assert.Equal("#/components/schemas/RecommendationView", paths.GetProperty("/api/v1/recommendations/{isdn}").GetProperty("get")
            .GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
        var amount = doc.GetProperty("components").GetProperty("schemas").GetProperty("RecommendationView").GetProperty("properties").GetProperty("advance_amount");
        Assert.Equal("number", amount.GetProperty("type").GetString());
        Assert.Equal("apiKey", doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey").GetProperty("type").GetString());
    }

    [Fact]
    public async Task The_document_passes_redocly_lint_without_errors_or_warnings()
    {
        var file = Path.Combine(Path.GetTempPath(), $"ut360-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, (await DocumentAsync()).GetRawText());
        try
        {
            var root = RepositoryRoot();
            var start = new ProcessStartInfo("npx", ["--yes", "@redocly/cli@2.77.0", "lint", file, "--config", Path.Combine(root, "redocly.yaml"), "--format=json"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = root,
            };
            start.Environment["NO_COLOR"] = "1";
            using var lint = Process.Start(start)!;
            var output = lint.StandardOutput.ReadToEndAsync();
            var errors = lint.StandardError.ReadToEndAsync();
            await lint.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            var text = await output;
            Assert.True(lint.ExitCode == 0, $"redocly lint exited {lint.ExitCode}: {text} {await errors}");
            var totals = JsonDocument.Parse(text).RootElement.GetProperty("totals");
            Assert.True(totals.GetProperty("errors").GetInt32() == 0 && totals.GetProperty("warnings").GetInt32() == 0, text);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
