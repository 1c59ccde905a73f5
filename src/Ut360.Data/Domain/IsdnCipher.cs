using System.Security.Cryptography;
using System.Text;

namespace Ut360.Data.Domain;

/// ISDNs are stored encrypted, as in the design's examples ("++/hZFPrCDRre55vsZqqxQ=="): one
/// AES block (AES-128-ECB, PKCS#7) of the MSISDN's ASCII digits, base64 → 24 characters. ECB is
/// deliberate: the same number must always give the same ISDN so that it can be looked up.
public sealed class IsdnCipher : IDisposable
{
    /// Demo key for local data only; production sets Ut360:IsdnKey (32 hex digits).
    public const string DemoKeyHex = "5554333630446576656c6f704b657921";

    readonly Aes _aes;

    public IsdnCipher(string? keyHex = null)
    {
        var key = Convert.FromHexString(string.IsNullOrWhiteSpace(keyHex) ? DemoKeyHex : keyHex);
        if (key.Length is not (16 or 24 or 32))
            throw new ArgumentException("The ISDN key must be 16, 24 or 32 bytes (32, 48 or 64 hex digits).", nameof(keyHex));
        _aes = Aes.Create();
        _aes.Key = key;
    }

    /// Normalises a Vietnamese MSISDN: digits only, leading 0 or +84 → 84.
    public static string? NormaliseMsisdn(string? input)
    {
        if (string.IsNullOrWhiteSpace(input))
            return null;
        var digits = input.Trim();
        if (digits.StartsWith('+'))
            digits = digits[1..];
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit))
            return null;
        if (digits.StartsWith('0'))
            digits = "84" + digits[1..];
        return digits.Length is >= 10 and <= 15 && digits.StartsWith("84", StringComparison.Ordinal) ? digits : null;
    }

    public string Encrypt(string msisdn)
    {
        Span<byte> plain = stackalloc byte[15];
        if (msisdn.Length > 15)
            throw new ArgumentException("An MSISDN has at most 15 digits.", nameof(msisdn));
        var n = Encoding.ASCII.GetBytes(msisdn, plain);
        return Convert.ToBase64String(_aes.EncryptEcb(plain[..n], PaddingMode.PKCS7));
    }

    public string Decrypt(string isdn) =>
        Encoding.ASCII.GetString(_aes.DecryptEcb(Convert.FromBase64String(isdn), PaddingMode.PKCS7));

    /// True for the shape of an encrypted ISDN: 24 base64 characters ending in "==".
    public static bool LooksLikeIsdn(string? value) =>
        value is { Length: 24 } && value.EndsWith("==", StringComparison.Ordinal)
        && value.AsSpan(0, 22).IndexOfAnyExcept("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") < 0;

    public void Dispose() => _aes.Dispose();
}
