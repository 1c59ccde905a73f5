using System.Security.Cryptography;
using Ut360.Data.Domain;

namespace Ut360.Cli.Generate;

/// The generator's fast path to IsdnCipher.Encrypt: the same AES-ECB block with PKCS#7 padding,
/// through one reusable ICryptoTransform instead of a one-shot call per number (about 10× faster,
/// which matters for 214,504 numbers). One instance per thread; tests decrypt every generated
/// ISDN with IsdnCipher to prove the two agree.
sealed class IsdnBlockEncryptor : IDisposable
{
    readonly Aes _aes;
    readonly ICryptoTransform _encryptor;
    readonly byte[] _plain = new byte[16];
    readonly byte[] _cipher = new byte[16];

    public IsdnBlockEncryptor(string? keyHex)
    {
        _aes = Aes.Create();
        _aes.Key = Convert.FromHexString(string.IsNullOrWhiteSpace(keyHex) ? IsdnCipher.DemoKeyHex : keyHex);
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        _encryptor = _aes.CreateEncryptor();
    }

    public string Encrypt(ReadOnlySpan<char> msisdn)
    {
        if (msisdn.Length > 15)
            throw new ArgumentException("An MSISDN has at most 15 digits.", nameof(msisdn));
        for (var k = 0; k < msisdn.Length; k++)
            _plain[k] = (byte)msisdn[k];
        var pad = (byte)(16 - msisdn.Length);
        _plain.AsSpan(msisdn.Length).Fill(pad);
        _encryptor.TransformBlock(_plain, 0, 16, _cipher, 0);
        return Convert.ToBase64String(_cipher);
    }

    public void Dispose()
    {
        _encryptor.Dispose();
        _aes.Dispose();
    }
}
