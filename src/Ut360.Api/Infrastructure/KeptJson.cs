using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;

namespace Ut360.Api.Infrastructure;

/// A 200 answer whose JSON was made once and kept with its view (the near cache keeps views):
/// written as bytes with a Content-Length, instead of running the serialiser and a chunked body
/// on every request. The OpenAPI document still shows T.
public sealed class KeptJson<T>(ReadOnlyMemory<byte> json) : IResult, IEndpointMetadataProvider, IStatusCodeHttpResult
{
    public int? StatusCode => StatusCodes.Status200OK;

    public Task ExecuteAsync(HttpContext http)
    {
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = json.Length;
        return response.BodyWriter.WriteAsync(json, http.RequestAborted).AsTask();
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(T), ["application/json"]));
}
