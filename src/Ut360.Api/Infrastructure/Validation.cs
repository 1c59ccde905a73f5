using Microsoft.AspNetCore.Http.HttpResults;
using Ut360.Data.Domain;

namespace Ut360.Api.Infrastructure;

/// Input checks shared by the features. Messages name the field and describe what is accepted;
/// they never echo a phone number.
public static class Validation
{
    public static ValidationProblem Problem(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] });

    /// An ISDN from a route: the catch-all keeps a raw "/" of the base64 text, and a client that
    /// escaped it sends "%2F", which routing leaves escaped.
    public static string? Isdn(string? raw)
    {
        if (raw is null)
            return null;
        if (raw.Contains('%'))
            raw = raw.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase).Replace("%2B", "+", StringComparison.OrdinalIgnoreCase)
                     .Replace("%3D", "=", StringComparison.OrdinalIgnoreCase);
        return IsdnCipher.LooksLikeIsdn(raw) ? raw : null;
    }

    public const string IsdnMessage = "Expected an encrypted ISDN: 24 base64 characters ending in \"==\" (escape \"/\" as %2F or send it as is).";
    public const string MsisdnMessage = "Expected a Vietnamese mobile number: 9 digits after 0 or +84 (spaces, dashes, dots and brackets allowed; pre-2018 11-digit numbers accepted).";
    public static readonly string ServiceMessage = $"Unknown service type; one of: {string.Join(", ", Vocabulary.ServiceTypes)}.";
    public static readonly string RiskMessage = $"Unknown risk level; one of: {string.Join(", ", Vocabulary.RiskLevels)}.";
}
