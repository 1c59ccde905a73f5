using System.Text;
using System.Text.Json;
using Microsoft.Net.Http.Headers;
using Ut360.Api.Infrastructure;
using Ut360.Data.Domain;

namespace Ut360.Api.Bulk;

/// Reads a bulk request body: JSON {"isdns":[…]}, CSV/plain text, or a multipart upload whose
/// first file is CSV — one ISDN per line, in the first column, an optional "isdn" header.
/// Errors name the field (isdns[i], or line n of the file) and never more than five of them.
static class BulkInput
{
    const int MaxErrors = 5;

    public static async Task<(List<string>? Isdns, Dictionary<string, string[]>? Error, string? TooLarge)> ReadAsync(
        HttpRequest request, long maxBytes, int maxIsdns, CancellationToken ct)
    {
        var contentType = request.ContentType is { } ctText && MediaTypeHeaderValue.TryParse(ctText, out var parsed)
            ? parsed.MediaType.Value?.ToLowerInvariant() : null;
        switch (contentType)
        {
            case "application/json":
            {
                var (body, over) = await ReadLimitedAsync(request.Body, maxBytes, ct);
                if (over)
                    return (null, null, $"The body is larger than {maxBytes} bytes.");
                BulkRequest? parsedBody;
                try
                {
                    parsedBody = JsonSerializer.Deserialize(body, ApiJson.Default.BulkRequest);
                }
                catch (JsonException e)
                {
                    return (null, Error("body", $"Not valid JSON of the shape {{\"isdns\":[\"…\"]}}: {e.Message}"), null);
                }
                if (parsedBody?.Isdns is not { } list)
                    return (null, Error("isdns", "Expected {\"isdns\":[\"…\"]} with 1 to 10,000 ISDNs."), null);
                if (list.Count > maxIsdns)
                    return ([.. list], null, null);
                Dictionary<string, string[]>? errors = null;
                for (var i = 0; i < list.Count; i++)
                    if (!IsdnCipher.LooksLikeIsdn(list[i]) && (errors ??= []).Count < MaxErrors)
                        errors[$"isdns[{i}]"] = [Validation.IsdnMessage];
                return errors is null ? ([.. list], null, null) : (null, errors, null);
            }
            case "text/csv" or "text/plain" or "application/csv":
            {
                var (body, over) = await ReadLimitedAsync(request.Body, maxBytes, ct);
                return over ? (null, null, $"The body is larger than {maxBytes} bytes.") : Lines(body, "body");
            }
            case "multipart/form-data":
            {
                if (!request.HasFormContentType)
                    return (null, Error("file", "Expected a multipart form with a CSV file."), null);
                IFormCollection form;
                try
                {
                    form = await request.ReadFormAsync(ct);
                }
                catch (InvalidDataException e)
                {
                    return (null, Error("file", $"The multipart body could not be read: {e.Message}"), null);
                }
                if (form.Files.Count == 0)
                    return (null, Error("file", "Expected an uploaded CSV file with one ISDN per line."), null);
                await using var stream = form.Files[0].OpenReadStream();
                var (body, over) = await ReadLimitedAsync(stream, maxBytes, ct);
                return over ? (null, null, $"The file is larger than {maxBytes} bytes.") : Lines(body, "file");
            }
            default:
                return (null, Error("body", "Send application/json {\"isdns\":[…]}, text/csv (one ISDN per line) or a multipart/form-data file."), null);
        }
    }

    static (List<string>?, Dictionary<string, string[]>?, string?) Lines(byte[] body, string field)
    {
        var text = Encoding.UTF8.GetString(body);
        var list = new List<string>();
        Dictionary<string, string[]>? errors = null;
        var lineNo = 0;
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            lineNo++;
            var line = raw.Trim();
            var comma = line.IndexOf(',');
            if (comma >= 0)
                line = line[..comma].Trim();
            line = line.Trim('"');
            if (line.IsEmpty || (lineNo == 1 && line.Equals("isdn", StringComparison.OrdinalIgnoreCase)))
                continue;
            var isdn = line.ToString();
            if (IsdnCipher.LooksLikeIsdn(isdn))
                list.Add(isdn);
            else if ((errors ??= []).Count < MaxErrors)
                errors[$"{field}:line {lineNo}"] = [Validation.IsdnMessage];
        }
        return errors is null ? (list, null, null) : (null, errors, null);
    }

    static async Task<(byte[] Body, bool Over)> ReadLimitedAsync(Stream body, long maxBytes, CancellationToken ct)
    {
        using var memory = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int n;
        while ((n = await body.ReadAsync(buffer, ct)) > 0)
        {
            memory.Write(buffer, 0, n);
            if (memory.Length > maxBytes)
                return ([], true);
        }
        return (memory.ToArray(), false);
    }

    static Dictionary<string, string[]> Error(string field, string message) => new() { [field] = [message] };
}
