using System.Net;

namespace Ut360.Tests.Api;

/// A web root of its own holding a stand-in for the Vite build.
public sealed class WebUiFactory : ApiFactory
{
    public string WebRoot { get; } = Directory.CreateTempSubdirectory("ut360-webroot-").FullName;

    protected override IEnumerable<(string Key, string Value)> ExtraSettings => [("webroot", WebRoot)];

    public override async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(WebRoot, "index.html"), "<!doctype html><title>UT360</title>");
        await File.WriteAllTextAsync(Path.Combine(WebRoot, "app.js"), "console.log('ut360')");
        await base.InitializeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(WebRoot, recursive: true);
    }
}

public sealed class WebUiTests(WebUiFactory api) : IClassFixture<WebUiFactory>
{
    [Theory]
    [InlineData("/")]
    [InlineData("/customers/123")]
    [InlineData("/analytics")]
    public async Task Pages_of_the_web_ui_fall_back_to_index_html_without_a_key(string path)
    {
        using var client = api.Client(null);
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<title>UT360</title>", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Static_files_are_served_and_api_paths_never_fall_back()
    {
        using var client = api.Client(null);
        Assert.Equal("console.log('ut360')", await client.GetStringAsync("/app.js"));
        var api404 = await client.GetAsync("/api/v1/no-such-thing");
        Assert.Equal(HttpStatusCode.NotFound, api404.StatusCode);
        Assert.Equal("application/problem+json", api404.Content.Headers.ContentType?.MediaType);
    }
}
