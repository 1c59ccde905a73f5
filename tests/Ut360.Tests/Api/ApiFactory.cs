extern alias api;

using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Api;

/// The API in memory against real PostgreSQL (a database of its own) and real Redis (a key
/// namespace of its own), with one API key per role and one with every role.
public class ApiFactory : WebApplicationFactory<api::Program>, IAsyncLifetime
{
    public const string AllKey = "key-with-every-role-0001";
    public const string LookupKey = "key-with-lookup-role-0002";
    public const string AnalystKey = "key-with-analyst-role-0003";
    public const string CampaignKey = "key-with-campaign-role-0004";
    public const string AdminKey = "key-with-admin-role-00005";

    public TestDatabase Db { get; private set; } = null!;
    public TestRedis Redis { get; private set; } = null!;

    /// Overrides for fault tests: another PostgreSQL or Redis than the shared ones.
    protected virtual string? PostgresConnectionString => null;
    protected virtual string? RedisConnectionString => null;
    protected virtual string? RedisCaCertificatePath => null;
    protected virtual IEnumerable<(string Key, string Value)> ExtraSettings => [];

    /// The in-process near cache hides what a test does to Redis behind the API's back, so it
    /// is off except in the tests of the near cache itself.
    protected virtual bool NearCache => false;

    public virtual async Task InitializeAsync()
    {
        Db = await TestDatabase.CreateAsync();
        Redis = await TestRedis.CreateAsync(RedisConnectionString, RedisCaCertificatePath);
        await SeedAsync();
        // Start the app and let its Redis connection come up, so that the first request does not
        // meet a connection still being made (a bounded wait on a condition, not a sleep).
        var mux = Services.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>();
        for (var i = 0; i < 200 && !mux.IsConnected; i++)
            await Task.Delay(50);
    }

    protected virtual Task SeedAsync() => Task.CompletedTask;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("ConnectionStrings:Postgres", PostgresConnectionString ?? Db.ConnectionString);
        // As deployed: the API's connection string has no admin mode (the sync adds its own).
        builder.UseSetting("ConnectionStrings:Redis", (RedisConnectionString ?? Redis.ConnectionString).Replace(",allowAdmin=true", "", StringComparison.Ordinal));
        builder.UseSetting("Redis:Namespace", Redis.Keys.Namespace);
        if (RedisCaCertificatePath is { } ca)
            builder.UseSetting("Redis:CaCertificatePath", ca);
        builder.UseSetting("Api:CursorKey", "test-cursor-key-0123456789");
        // The test data is encrypted with the demo key; Production requires it to be named.
        builder.UseSetting("Ut360:IsdnKey", Ut360.Data.Domain.IsdnCipher.DemoKeyHex);
        Key(builder, "all", AllKey, "lookup", "analyst", "campaign", "admin");
        Key(builder, "lookup", LookupKey, "lookup");
        Key(builder, "analyst", AnalystKey, "analyst");
        Key(builder, "campaign", CampaignKey, "campaign");
        Key(builder, "admin", AdminKey, "admin");
        if (!NearCache)
        {
            builder.UseSetting("NearCache:Recommendations", "0");
            builder.UseSetting("NearCache:Profiles", "0");
            builder.UseSetting("NearCache:Pages", "0");
        }
        // The watchdog would sync every test's namespace at start (no sync recorded yet).
        builder.UseSetting("Sync:WatchSeconds", "0");
        foreach (var (key, value) in ExtraSettings)
            builder.UseSetting(key, value);
    }

    static void Key(IWebHostBuilder builder, string name, string key, params string[] roles)
    {
        builder.UseSetting($"Auth:Keys:{name}:Key", key);
        for (var i = 0; i < roles.Length; i++)
            builder.UseSetting($"Auth:Keys:{name}:Roles:{i}", roles[i]);
    }

    public HttpClient Client(string? key = AllKey)
    {
        var client = CreateClient();
        if (key is not null)
            client.DefaultRequestHeaders.Add("X-Api-Key", key);
        return client;
    }

    public async Task<JsonElement> GetJsonAsync(string path, string? key = AllKey)
    {
        using var client = Client(key);
        var response = await client.GetAsync(path);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        await Redis.DisposeAsync();
        await Db.DisposeAsync();
    }
}

public static class Paths
{
    /// An ISDN escaped for a URL path ("/" → %2F, "+" → %2B).
    public static string Escape(string isdn) => Uri.EscapeDataString(isdn);
}

/// The API over <c>subscribers</c> subscribers of fill.sql, fully synced before it starts.
public abstract class SyncedApiFactory(int subscribers) : ApiFactory
{
    protected override async Task SeedAsync()
    {
        await Sync.SyncTestKit.FillAsync(Db, subscribers);
        Assert.Equal(Ut360.Data.Sync.SyncOutcome.Succeeded, (await Sync.SyncTestKit.FullAsync(Db, Redis)).Outcome);
    }
}
