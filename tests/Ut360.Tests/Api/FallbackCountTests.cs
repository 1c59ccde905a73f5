using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Ut360.Api.Infrastructure;

namespace Ut360.Tests.Api;

/// Issue 16, item 8: admin/cache counts what was read from PostgreSQL because Redis was not
/// usable as fallbacks, never as misses.
public sealed class FallbackCountTests(RedisFaultFactory api) : IClassFixture<RedisFaultFactory>
{
    [Fact]
    public async Task A_list_page_read_from_postgresql_while_redis_is_down_counts_its_records_as_fallbacks()
    {
        using var client = api.Client();
        var metrics = api.Services.GetRequiredService<ApiMetrics>();
        api.RedisServer.Kill();
        try
        {
            var (misses, fallbacks) = (metrics.Misses, metrics.Fallbacks);
            var response = await client.GetAsync("/api/v1/services/EasyCredit/recommendations?limit=10");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var items = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").GetArrayLength();
            Assert.True(items > 0);

            Assert.Equal(misses, metrics.Misses);
            // The page itself and each of its records.
            Assert.True(metrics.Fallbacks - fallbacks >= items + 1, $"{metrics.Fallbacks - fallbacks} fallbacks for a page of {items}");
            var cache = await api.GetJsonAsync("/api/v1/admin/cache", ApiFactory.AdminKey);
            Assert.Equal(metrics.Misses, cache.GetProperty("misses").GetInt64());
        }
        finally
        {
            api.RedisServer.Start();
        }
    }
}
