using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// Collects the fields RecordEncoder writes as HashEntry values for HSET. Field names are the
/// same for every record, so each is made once; a record's values are copied into one array of
/// its own, because the multiplexer may send the command after the next record is encoded.
/// Not thread-safe: one per writer.
sealed class HashEntrySink(int fields) : IHashFieldSink
{
    readonly byte[]?[] _nameBytes = new byte[]?[fields];
    readonly RedisValue[] _names = new RedisValue[fields];
    readonly (int Offset, int Length)[] _values = new (int, int)[fields];
    byte[] _buffer = new byte[4096];
    int _used, _count;

    /// The longest value of the record being built, in bytes (listpack limit check).
    public int LongestValue { get; private set; }

    public void Field(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (_nameBytes[_count] is not { } known || !name.SequenceEqual(known))
        {
            _nameBytes[_count] = name.ToArray();
            _names[_count] = _nameBytes[_count];
        }
        if (_buffer.Length - _used < value.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _used + value.Length));
        value.CopyTo(_buffer.AsSpan(_used));
        _values[_count++] = (_used, value.Length);
        _used += value.Length;
        LongestValue = Math.Max(LongestValue, value.Length);
    }

    /// The record's entries; the sink is then ready for the next record.
    public HashEntry[] Take()
    {
        var data = _buffer.AsSpan(0, _used).ToArray();
        var entries = new HashEntry[_count];
        for (var i = 0; i < _count; i++)
            entries[i] = new HashEntry(_names[i], new ReadOnlyMemory<byte>(data, _values[i].Offset, _values[i].Length));
        _used = _count = 0;
        LongestValue = 0;
        return entries;
    }
}
