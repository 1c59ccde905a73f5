using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Api;

public sealed class BulkTests(LookupFactory api) : IClassFixture<LookupFactory>
{
    [Fact]
    public async Task A_json_list_gets_a_result_per_isdn_and_the_answer_is_cached()
    {
        // 1–200 in Redis, 201–300 only in PostgreSQL, 900001–900010 nowhere.
        var ids = new[] { 1, 2, 3, 250, 251, 900_001, 900_002, 2 };
        var isdns = ids.Select(ApiTestData.Isdn).ToArray();
        using var client = api.Client(ApiFactory.CampaignKey);
        var response = await client.PostAsJsonAsync("/api/v1/recommendations/bulk", new { isdns });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("miss", response.Headers.GetValues("X-Cache").Single());
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(7, json.GetProperty("requested").GetInt32());   // de-duplicated
        Assert.Equal(5, json.GetProperty("found").GetInt32());
        Assert.Equal(2, json.GetProperty("not_found").GetInt32());
        Assert.False(json.GetProperty("cached").GetBoolean());
        var results = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(isdns.Distinct().Order(StringComparer.Ordinal), results.Select(r => r.GetProperty("isdn").GetString()));
        var r250 = results.Single(r => r.GetProperty("isdn").GetString() == ApiTestData.Isdn(250));
        Assert.True(r250.GetProperty("found").GetBoolean());
        Assert.Equal(ApiTestData.Rec(250).AdvanceAmount, r250.GetProperty("recommendation").GetProperty("advance_amount").GetDecimal());
        Assert.False(results.Single(r => r.GetProperty("isdn").GetString() == ApiTestData.Isdn(900_001)).GetProperty("found").GetBoolean());
        // The PostgreSQL rows are written back (after the answer, which does not wait for it).
        await Poll.UntilAsync(() => api.Redis.Db.KeyExistsAsync(api.Redis.Keys.Rec(ApiTestData.Isdn(251))), "the bulk's misses written back to Redis");

        var again = await client.PostAsJsonAsync("/api/v1/recommendations/bulk", new { isdns = isdns.Reverse().ToArray() });
        Assert.Equal("hit", again.Headers.GetValues("X-Cache").Single());
        var cached = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(cached.GetProperty("cached").GetBoolean());
        Assert.Equal(5, cached.GetProperty("found").GetInt32());
        Assert.Equal(json.GetProperty("results").GetRawText(), cached.GetProperty("results").GetRawText());
        // Structure G: ut360:bulk:{SHA-256 of the sorted, de-duplicated list, one ISDN per line}.
        var listed = string.Concat(isdns.Distinct().Order(StringComparer.Ordinal).Select(i => i + "\n"));
        var bulkKey = api.Redis.Keys.Bulk(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(listed))));
        Assert.InRange((await api.Redis.Db.KeyTimeToLiveAsync(bulkKey))!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
    }

    [Fact]
    public async Task A_csv_body_and_an_uploaded_file_are_accepted()
    {
        var csv = "isdn\n" + string.Join("\n", new[] { 11, 12, 13 }.Select(ApiTestData.Isdn)) + "\n";
        using var client = api.Client(ApiFactory.CampaignKey);
        var response = await client.PostAsync("/api/v1/recommendations/bulk", new StringContent(csv, Encoding.UTF8, "text/csv"));
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(3, json.GetProperty("found").GetInt32());

        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(string.Join("\r\n", new[] { 14, 15 }.Select(ApiTestData.Isdn))));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(file, "file", "campaign.csv");
        response = await client.PostAsync("/api/v1/recommendations/bulk", form);
        json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, json.GetProperty("found").GetInt32());
    }

    [Fact]
    public async Task More_than_ten_thousand_isdns_is_a_413_problem()
    {
        var isdns = Enumerable.Range(1, 10_001).Select(ApiTestData.Isdn).ToArray();
        using var client = api.Client(ApiFactory.CampaignKey);
        var response = await client.PostAsJsonAsync("/api/v1/recommendations/bulk", new { isdns });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_a_413()
    {
        using var client = api.Client(ApiFactory.CampaignKey);
        var big = new string('A', 3 * 1024 * 1024);
        var response = await client.PostAsync("/api/v1/recommendations/bulk", new StringContent(big, Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData("application/json", "{not json", "body")]
    [InlineData("application/json", "{\"isdns\":[]}", "isdns")]
    [InlineData("application/json", "{\"other\":1}", "isdns")]
    [InlineData("application/json", "{\"isdns\":[\"x\"]}", "isdns[0]")]
    [InlineData("text/csv", "isdn\nnot-an-isdn\n", "body:line 2")]
    [InlineData("application/xml", "<isdns/>", "body")]
    public async Task A_bad_body_is_a_400_naming_the_field(string contentType, string body, string field)
    {
        using var client = api.Client(ApiFactory.CampaignKey);
        var response = await client.PostAsync("/api/v1/recommendations/bulk", new StringContent(body, Encoding.UTF8, contentType));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(json.GetProperty("errors").TryGetProperty(field, out _), await response.Content.ReadAsStringAsync());
    }
}
