using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Ut360.Api.Infrastructure;
using Ut360.Tests.Infrastructure;

namespace Ut360.Tests.Api;

/// The Redis circuit (a Polly breaker): failing commands open it, the API answers from
/// PostgreSQL meanwhile, and once Redis answers a probe closes it.
public sealed class CircuitTests(RedisFaultFactory api) : IClassFixture<RedisFaultFactory>
{
    static string RecPath(int i) => $"/api/v1/recommendations/{Paths.Escape(ApiTestData.Isdn(i))}";

    [Fact]
    public async Task Failing_redis_commands_open_the_circuit_and_a_probe_closes_it_once_redis_answers()
    {
        using var client = api.Client();
        var circuit = api.Services.GetRequiredService<RedisCircuit>();
        Assert.False(circuit.IsOpen);
        api.RedisServer.Kill();
        try
        {
            var i = 0;
            await Poll.UntilAsync(async () =>
            {
                using var response = await client.GetAsync(RecPath(i++ % 50 + 1));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                return circuit.IsOpen;
            }, "the circuit opens while Redis is down");
            var cache = await api.GetJsonAsync("/api/v1/admin/cache", ApiFactory.AdminKey);
            Assert.True(cache.GetProperty("circuit_open").GetBoolean());
        }
        finally
        {
            api.RedisServer.Start();
        }
        await PrivateRedisFactory.HitsAgainAsync(client, RecPath(3));
        Assert.False(circuit.IsOpen);
    }
}
