using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Ut360.Api.Infrastructure;

namespace Ut360.Api.Segments;

/// Where a UC3/UC4 page ends: either an SSCAN position (the Redis cursor and how many members of
/// the batch that starts there were already returned) or, when the index was missing and the
/// page came from PostgreSQL, the last ISDN returned (keyset paging). Version is the version of
/// the list the traversal started in (SegmentReader.VersionAsync): the sync_id of the meta for a
/// Redis page, the last succeeded load for a PostgreSQL one; a later page of another version
/// would mix two lists, so it is refused (409).
public readonly record struct SegmentCursor(bool FromPostgres, ulong RedisCursor, int Skip, string? After, long Version = 0)
{
    public static readonly SegmentCursor Start = new(false, 0, 0, null);

    public bool IsStart => RedisCursor == 0 && Skip == 0 && After is null;
}

/// Makes cursors opaque and tamper-evident: base64url(payload ‖ HMAC-SHA256(key, segment ‖
/// payload)[..16]). A cursor from another segment, or edited, fails the check and is a 400.
public sealed class CursorSigner
{
    const byte FormatVersion = 2;
    const int Fixed = 1 + 1 + 8 + 4 + 8;   // format, source, SSCAN cursor, skip, list version
    readonly byte[] _key;

    public CursorSigner(IOptions<ApiOptions> options) =>
        _key = string.IsNullOrEmpty(options.Value.CursorKey)
            ? RandomNumberGenerator.GetBytes(32)
            : SHA256.HashData(Encoding.UTF8.GetBytes(options.Value.CursorKey));

    public string Encode(string segment, SegmentCursor c)
    {
        var after = c.After is null ? [] : Encoding.UTF8.GetBytes(c.After);
        var payload = new byte[Fixed + after.Length];
        payload[0] = FormatVersion;
        payload[1] = c.FromPostgres ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt64BigEndian(payload.AsSpan(2), c.RedisCursor);
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(10), c.Skip);
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(14), c.Version);
        after.CopyTo(payload, Fixed);
        var token = new byte[payload.Length + 16];
        payload.CopyTo(token, 0);
        Mac(segment, payload).AsSpan(0, 16).CopyTo(token.AsSpan(payload.Length));
        return Base64Url.EncodeToString(token);
    }

    public bool TryDecode(string segment, string? text, out SegmentCursor cursor)
    {
        cursor = SegmentCursor.Start;
        if (string.IsNullOrEmpty(text))
            return true;
        if (text.Length > 400)
            return false;
        byte[] token;
        try
        {
            token = Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return false;
        }
        if (token.Length < Fixed + 16 || token[0] != FormatVersion || token[1] > 1)
            return false;
        var payload = token.AsSpan(0, token.Length - 16);
        if (!CryptographicOperations.FixedTimeEquals(Mac(segment, payload.ToArray()).AsSpan(0, 16), token.AsSpan(token.Length - 16)))
            return false;
        var skip = BinaryPrimitives.ReadInt32BigEndian(payload[10..]);
        if (skip < 0)
            return false;
        cursor = new SegmentCursor(payload[1] == 1, BinaryPrimitives.ReadUInt64BigEndian(payload[2..]), skip,
            payload.Length > Fixed ? Encoding.UTF8.GetString(payload[Fixed..]) : null, BinaryPrimitives.ReadInt64BigEndian(payload[14..]));
        return true;
    }

    byte[] Mac(string segment, byte[] payload)
    {
        var segmentBytes = Encoding.UTF8.GetBytes(segment);
        var data = new byte[segmentBytes.Length + 1 + payload.Length];
        segmentBytes.CopyTo(data, 0);
        payload.CopyTo(data, segmentBytes.Length + 1);
        return HMACSHA256.HashData(_key, data);
    }
}
