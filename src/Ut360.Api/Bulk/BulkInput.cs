using System.Text;
using System.Text.Json;
using Microsoft.Net.Http.Headers;
using nietras.SeparatedValues;
using Ut360.Api.Infrastructure;
using Ut360.Data.Domain;

namespace Ut360.Api.Bulk;

/// <summary>A line of an uploaded list that holds no ISDN, reported in the answer instead of failing the batch.</summary>
/// <param name="Line">1-based line of the body or file (a quoted cell spanning lines counts from its first line).</param>
/// <param name="Value">The cell as sent, cut to 64 characters.</param>
/// <param name="Reason"><c>not_an_isdn</c> (not 24 base64 characters ending in "==") or <c>missing_column</c>
/// (the row has no cell in the ISDN column).</param>
public sealed record BulkRejectedLine(int Line, string Value, string Reason);

/// <summary>The ISDNs of a bulk request in the order given, and the lines that held none.</summary>
public sealed record BulkList(List<string> Isdns, List<BulkRejectedLine> Rejected, int RejectedCount);

/// Reads a bulk request body: JSON {"isdns":[…]}, CSV/plain text, or a multipart upload whose
/// first file is CSV. A CSV's ISDNs are the column headed "isdn" (any case), else the first
/// column; a UTF-8 BOM is dropped (Excel's "CSV UTF-8" and our own downloads write one).
/// JSON is strict (400 naming isdns[i]); a CSV line without an ISDN is reported and the rest
/// looked up, unless no line holds one (400 naming the first lines).
static class BulkInput
{
    const int MaxErrors = 5;
    /// The answer lists this many rejected lines at most; rejected_count has them all.
    public const int MaxRejectedListed = 1_000;
    const int MaxValueLength = 64;

    public static async Task<(BulkList? List, Dictionary<string, string[]>? Error, string? TooLarge)> ReadAsync(
        HttpRequest request, long maxBytes, int maxIsdns, CancellationToken ct)
    {
        try
        {
            return await ReadBodyAsync(request, maxBytes, maxIsdns, ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, null, $"The body is larger than {maxBytes} bytes.");
        }
        // Kestrel's framing errors (a bad chunk size, a body cut short) and a malformed multipart
        // body are the client's: a 400 naming the body, never a 500.
        catch (Exception e) when (e is BadHttpRequestException or InvalidDataException or IOException && !ct.IsCancellationRequested)
        {
            return (null, Error("body", $"The request body could not be read: {e.Message}"), null);
        }
    }

    static async Task<(BulkList?, Dictionary<string, string[]>?, string?)> ReadBodyAsync(
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
                    return (new BulkList([.. list], [], 0), null, null);
                Dictionary<string, string[]>? errors = null;
                for (var i = 0; i < list.Count; i++)
                    if (!IsdnCipher.LooksLikeIsdn(list[i]) && (errors ??= []).Count < MaxErrors)
                        errors[$"isdns[{i}]"] = [Validation.IsdnMessage];
                return errors is null ? (new BulkList([.. list], [], 0), null, null) : (null, errors, null);
            }
            case "text/csv" or "text/plain" or "application/csv":
            {
                var (body, over) = await ReadLimitedAsync(request.Body, maxBytes, ct);
                return over ? (null, null, $"The body is larger than {maxBytes} bytes.") : Csv(body, "body");
            }
            case "multipart/form-data":
            {
                if (!request.HasFormContentType)
                    return (null, Error("file", "Expected a multipart form with a CSV file."), null);
                var form = await request.ReadFormAsync(ct);
                if (form.Files.Count == 0)
                    return (null, Error("file", "Expected an uploaded CSV file with one ISDN per line."), null);
                await using var stream = form.Files[0].OpenReadStream();
                var (body, over) = await ReadLimitedAsync(stream, maxBytes, ct);
                return over ? (null, null, $"The file is larger than {maxBytes} bytes.") : Csv(body, "file");
            }
            default:
                return (null, Error("body", "Send application/json {\"isdns\":[…]}, text/csv (one ISDN per line) or a multipart/form-data file."), null);
        }
    }

    static (BulkList?, Dictionary<string, string[]>?, string?) Csv(byte[] body, string field)
    {
        // StreamReader drops the BOM; Sep detects the separator (, ; tab |) from the first row.
        using var text = new StreamReader(new MemoryStream(body), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        using var reader = Sep.Reader(o => o with
        {
            HasHeader = false,
            Unescape = true,
            Trim = SepTrim.All,
            DisableColCountCheck = true,
        }).From(text);

        var isdns = new List<string>();
        var rejected = new List<BulkRejectedLine>();
        var rejectedCount = 0;
        var column = 0;
        var first = true;
        foreach (var row in reader)
        {
            if (first)
            {
                first = false;
                var header = -1;
                for (var c = 0; c < row.ColCount && header < 0; c++)
                    if (row[c].Span.Equals("isdn", StringComparison.OrdinalIgnoreCase))
                        header = c;
                if (header >= 0)
                {
                    column = header;
                    continue;
                }
            }
            if (row.ColCount == 1 && row[0].Span.IsEmpty)
                continue; // a blank line
            string? reason = null;
            var value = "";
            if (row.ColCount <= column)
                reason = "missing_column";
            else
            {
                value = row[column].ToString();
                // Our own exports (and OWASP's advice) write a cell starting with + as '+… so a
                // spreadsheet does not take it for a formula; such a file comes back as it went out.
                if (value.Length == 25 && value[0] == '\'' && IsdnCipher.LooksLikeIsdn(value[1..]))
                    value = value[1..];
                if (IsdnCipher.LooksLikeIsdn(value))
                    isdns.Add(value);
                else
                    reason = "not_an_isdn";
            }
            if (reason is null)
                continue;
            if (rejectedCount++ < MaxRejectedListed)
                rejected.Add(new BulkRejectedLine(row.LineNumberFrom, value.Length > MaxValueLength ? value[..MaxValueLength] : value, reason));
        }

        if (isdns.Count == 0 && rejected.Count > 0)
        {
            var errors = rejected.Take(MaxErrors).ToDictionary(
                r => $"{field}:line {r.Line}",
                r => new[] { r.Reason == "missing_column" ? "The line has no cell in the ISDN column." : Validation.IsdnMessage });
            return (null, errors, null);
        }
        return (new BulkList(isdns, rejected, rejectedCount), null, null);
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
