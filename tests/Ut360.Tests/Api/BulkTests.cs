using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
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
        // In the order given, each ISDN once.
        Assert.Equal(isdns.Distinct(), results.Select(r => r.GetProperty("isdn").GetString()));
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
        // The cached answer is the same list (structure G is keyed by the sorted list), in this request's order.
        var reversed = cached.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(isdns.Reverse().Distinct(), reversed.Select(r => r.GetProperty("isdn").GetString()));
        Assert.Equal(
            results.ToDictionary(r => r.GetProperty("isdn").GetString()!, r => r.GetRawText()),
            reversed.ToDictionary(r => r.GetProperty("isdn").GetString()!, r => r.GetRawText()));
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
    static async Task<JsonElement> PostCsvAsync(HttpClient client, byte[] body, string contentType = "text/csv")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        var response = await client.PostAsync("/api/v1/recommendations/bulk", content);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    static string[] IsdnsOf(JsonElement answer) =>
        [.. answer.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("isdn").GetString()!)];

    [Fact]
    public async Task A_csv_with_a_utf8_bom_as_excel_writes_it_is_read()
    {
        var csv = "isdn\r\n" + string.Join("\r\n", new[] { 21, 22 }.Select(ApiTestData.Isdn)) + "\r\n";
        byte[] body = [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(csv)];
        using var client = api.Client(ApiFactory.CampaignKey);
        var json = await PostCsvAsync(client, body);
        Assert.Equal([ApiTestData.Isdn(21), ApiTestData.Isdn(22)], IsdnsOf(json));
        Assert.Equal(2, json.GetProperty("found").GetInt32());
        Assert.Equal(0, json.GetProperty("rejected_count").GetInt32());

        // A cell our exports wrote as text ('+…, so no spreadsheet runs it as a formula) reads back as the ISDN.
        json = await PostCsvAsync(client, Encoding.UTF8.GetBytes($"isdn\n'{ApiTestData.Isdn(24)}\n"));
        Assert.Equal([ApiTestData.Isdn(24)], IsdnsOf(json));

        // Without a header the BOM sits before the first ISDN, which must still count.
        body = [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(ApiTestData.Isdn(23) + "\n")];
        json = await PostCsvAsync(client, body);
        Assert.Equal([ApiTestData.Isdn(23)], IsdnsOf(json));
    }

    [Fact]
    public async Task The_isdn_column_is_found_by_its_header_in_a_file_with_several_columns()
    {
        var csv = "name,ISDN,note\n" +
            $"\"Nguyễn Văn A\",{ApiTestData.Isdn(31)},\"gọi lại, sau 5h\"\n" +
            $"Trần Thị B,\"{ApiTestData.Isdn(32)}\",\n";
        using var client = api.Client(ApiFactory.CampaignKey);
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(file, "file", "campaign.csv");
        var response = await client.PostAsync("/api/v1/recommendations/bulk", form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal([ApiTestData.Isdn(31), ApiTestData.Isdn(32)], IsdnsOf(json));
        Assert.Equal(2, json.GetProperty("requested").GetInt32());

        // No header: the first column, whatever follows it on the line (semicolons as Excel writes them in vi-VN).
        json = await PostCsvAsync(client, Encoding.UTF8.GetBytes($"{ApiTestData.Isdn(33)};x;y\n{ApiTestData.Isdn(34)};z;w\n"));
        Assert.Equal([ApiTestData.Isdn(33), ApiTestData.Isdn(34)], IsdnsOf(json));
    }

    [Fact]
    public async Task Malformed_lines_are_reported_by_line_and_the_rest_looked_up_in_the_order_given()
    {
        var lines = new[]
        {
            "isdn,segment",
            ApiTestData.Isdn(45) + ",a",
            "0912345678,b",          // a phone number, not an encrypted ISDN
            ApiTestData.Isdn(41) + ",c",
            "",
            ",d",                    // an empty ISDN cell
            ApiTestData.Isdn(900_003) + ",e",
            ApiTestData.Isdn(43) + ",f",
            ApiTestData.Isdn(41) + ",g", // a repeat
        };
        using var client = api.Client(ApiFactory.CampaignKey);
        var json = await PostCsvAsync(client, Encoding.UTF8.GetBytes(string.Join("\n", lines)));
        Assert.Equal([ApiTestData.Isdn(45), ApiTestData.Isdn(41), ApiTestData.Isdn(900_003), ApiTestData.Isdn(43)], IsdnsOf(json));
        Assert.Equal(4, json.GetProperty("requested").GetInt32());
        Assert.Equal(3, json.GetProperty("found").GetInt32());
        Assert.Equal(2, json.GetProperty("rejected_count").GetInt32());
        var rejected = json.GetProperty("rejected").EnumerateArray()
            .Select(r => (r.GetProperty("line").GetInt32(), r.GetProperty("value").GetString(), r.GetProperty("reason").GetString())).ToList();
        Assert.Equal([(3, "0912345678", "not_an_isdn"), (6, "", "not_an_isdn")], rejected);
    }

    [Fact]
    public async Task A_malformed_multipart_body_is_a_400_problem()
    {
        using var client = api.Client(ApiFactory.CampaignKey);
        foreach (var body in new[] { "hello", "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nabc", "--XyZ--garbage" })
        {
            var content = new StringContent(body);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=XyZ");
            var response = await client.PostAsync("/api/v1/recommendations/bulk", content);
            Assert.True(response.StatusCode is HttpStatusCode.BadRequest, $"{body}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }
}

/// The API on a real Kestrel socket: HTTP framing errors (chunk sizes) never reach an in-memory server.
public sealed class KestrelLookupFactory : ApiFactory
{
    public KestrelLookupFactory() => UseKestrel(0);
}

public sealed class BulkFramingTests(KestrelLookupFactory api) : IClassFixture<KestrelLookupFactory>
{
    [Theory]
    [InlineData("80000000")]
    [InlineData("FFFFFFFF")]
    [InlineData("1000000000000000")]
    public async Task A_chunked_body_with_a_huge_chunk_size_is_a_4xx_not_a_500(string chunkSize)
    {
        api.StartServer();
        var address = new Uri(api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        await using var stream = tcp.GetStream();
        var request = "POST /api/v1/recommendations/bulk HTTP/1.1\r\n" +
            $"Host: {address.Authority}\r\nX-Api-Key: {ApiFactory.CampaignKey}\r\nContent-Type: text/csv\r\n" +
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
            $"{chunkSize}\r\n{ApiTestData.Isdn(1)}\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var status = await reader.ReadLineAsync(timeout.Token);
        Assert.NotNull(status);
        var code = int.Parse(status.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(code is >= 400 and < 500, status);
    }
}
