// Obsolete constructors of StackExchange.Redis 3 exceptions: this file is replaced by the library itself (issue: no hand-written Redis client).
#pragma warning disable CS0618
using System.Buffers.Text;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;
using Ut360.Data.Redis;

namespace Ut360.Data.Sync;

/// The bulk writes of a sync (HSET, EXPIRE, ZADD, SADD), sent the way `redis-cli --pipe` sends
/// them: RESP bytes encoded straight into large buffers, one socket write per ~256 KB, replies
/// read and checked concurrently on each connection. Every reply is counted; every error reply
/// is counted and its first messages kept, and CompleteAsync throws when there was any.
///
/// Against a Redis Cluster it opens one connection per master and routes each command by the
/// CRC16 hash slot of its key (hash tags honoured), from the slot map read when it opens. A
/// slot that moves during the sync answers MOVED, which counts as an error: the sync fails
/// and the next one converges.
///
/// Not thread-safe: one pipeline per producer.
sealed class RespPipeline : IAsyncDisposable
{
    const int FlushAt = 256 * 1024;
    static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(60);

    readonly Node[] _nodes;
    readonly Node[]? _bySlot;

    RespPipeline(Node[] nodes, Node[]? bySlot)
    {
        _nodes = nodes;
        _bySlot = bySlot;
    }

    public long Commands => _nodes.Sum(n => n.Sent);

    public static async Task<RespPipeline> OpenAsync(IConnectionMultiplexer redis, int database, CancellationToken ct)
    {
        var options = ConfigurationOptions.Parse(redis.Configuration);
        var masters = RedisState.Masters(redis).ToList();
        if (masters.Count == 0)
            throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "no connected Redis master");
        var nodes = new List<Node>();
        try
        {
            if (!RedisState.IsCluster(redis))
            {
                var node = await Node.ConnectAsync(masters[0].EndPoint, options, ct);
                nodes.Add(node);
                var db = database >= 0 ? database : options.DefaultDatabase ?? 0;
                if (db != 0)
                {
                    node.Out.Command(2);
                    node.Out.Bulk("SELECT"u8);
                    node.Out.Bulk(db);
                    node.Sent++;
                }
                return new RespPipeline([.. nodes], null);
            }

            var config = await masters[0].ClusterNodesAsync()
                ?? throw new RedisException("CLUSTER NODES returned nothing");
            var bySlot = new Node[HashSlots.Count];
            foreach (var cn in config.Nodes.Where(n => !n.IsReplica && n.Slots.Count > 0))
            {
                var node = await Node.ConnectAsync(cn.EndPoint ?? throw new RedisException($"cluster node {cn.NodeId} has no address"), options, ct);
                nodes.Add(node);
                foreach (var range in cn.Slots)
                    for (var s = range.From; s <= range.To; s++)
                        bySlot[s] = node;
            }
            var missing = Array.FindIndex(bySlot, n => n is null);
            if (missing >= 0)
                throw new RedisException($"Redis Cluster slot {missing} has no master: the cluster is not fully covered");
            return new RespPipeline([.. nodes], bySlot);
        }
        catch
        {
            foreach (var n in nodes)
                await n.DisposeAsync();
            throw;
        }
    }

    /// The connection that serves this key: write its commands into target.Out, then call SentAsync.
    public Node For(ReadOnlySpan<byte> key) => _bySlot is null ? _nodes[0] : _bySlot[HashSlots.Of(key)];

    /// Counts the commands just written and sends the buffer once it is large.
    public ValueTask SentAsync(Node node, int commands, CancellationToken ct)
    {
        node.Sent += commands;
        return node.Out.Length >= FlushAt ? node.FlushAsync(ct) : ValueTask.CompletedTask;
    }

    /// Sends what is buffered, waits for every reply, and throws if any was an error.
    public async Task CompleteAsync(CancellationToken ct)
    {
        foreach (var n in _nodes)
            await n.FlushAsync(ct);
        foreach (var n in _nodes)
            await n.DrainAsync(ReplyTimeout, ct);
        var errors = _nodes.Sum(n => n.Errors);
        if (errors > 0)
        {
            var first = _nodes.SelectMany(n => n.ErrorSamples).Take(3);
            throw new RedisPipelineException(errors, Commands, string.Join("; ", first));
        }
    }

    /// Error replies so far (a sync stops early rather than pushing on into a refusing server).
    public long ErrorsSoFar => _nodes.Sum(n => Interlocked.Read(ref n.ErrorCount));

    public async ValueTask DisposeAsync()
    {
        foreach (var n in _nodes)
            await n.DisposeAsync();
    }

    public sealed class Node : IAsyncDisposable
    {
        readonly TcpClient _client;
        readonly Stream _stream;
        readonly EndPoint _endPoint;
        readonly Task _reader;
        readonly CancellationTokenSource _stop = new();
        readonly List<string> _errorSamples = [];
        RespBuffer _spare = new();
        Task _writing = Task.CompletedTask;
        long _replied;
        long _target = -1;
        Exception? _readFailure;
        TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public RespBuffer Out = new();
        public long Sent;
        public long ErrorCount;

        Node(TcpClient client, Stream stream, EndPoint endPoint)
        {
            _client = client;
            _stream = stream;
            _endPoint = endPoint;
            _reader = Task.Run(ReadLoopAsync);
        }

        public long Errors => Interlocked.Read(ref ErrorCount);

        public IEnumerable<string> ErrorSamples
        {
            get
            {
                lock (_errorSamples)
                    return [.. _errorSamples.Select(e => $"{_endPoint}: {e}")];
            }
        }

        public static async Task<Node> ConnectAsync(EndPoint endPoint, ConfigurationOptions options, CancellationToken ct)
        {
            var client = new TcpClient(AddressFamily.InterNetworkV6) { NoDelay = true };
            client.Client.DualMode = true;
            try
            {
                switch (endPoint)
                {
                    case IPEndPoint ip:
                        await client.ConnectAsync(ip.Address, ip.Port, ct);
                        break;
                    case DnsEndPoint dns:
                        await client.ConnectAsync(dns.Host, dns.Port, ct);
                        break;
                    default:
                        throw new RedisException($"cannot connect to {endPoint}");
                }
                Stream stream = client.GetStream();
                if (options.Ssl)
                {
                    var host = options.SslHost ?? (endPoint as DnsEndPoint)?.Host ?? (endPoint as IPEndPoint)?.Address.ToString() ?? "";
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                    await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host }, ct);
                    stream = ssl;
                }
                var node = new Node(client, stream, endPoint);
                if (options.Password is { Length: > 0 } password)
                {
                    node.Out.Command(options.User is { Length: > 0 } ? 3 : 2);
                    node.Out.Bulk("AUTH"u8);
                    if (options.User is { Length: > 0 } user)
                        node.Out.Bulk(user);
                    node.Out.Bulk(password);
                    node.Sent++;
                }
                return node;
            }
            catch (Exception ex) when (ex is SocketException or IOException or System.Security.Authentication.AuthenticationException)
            {
                client.Dispose();
                throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, $"Redis {endPoint}: {ex.Message}", ex);
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }

        // Double-buffered: the next buffer fills while the previous one is on its way.
        public async ValueTask FlushAsync(CancellationToken ct)
        {
            await _writing;
            if (_readFailure is { } failure)
                throw new RedisConnectionException(ConnectionFailureType.SocketFailure, $"Redis {_endPoint}: {failure.Message}", failure);
            if (Out.Length == 0)
                return;
            // The spare's previous write has completed (awaited above): it becomes the buffer to fill.
            (Out, _spare) = (_spare, Out);
            Out.ResetAfterSend();
            _writing = WriteAsync(_spare.Memory, ct);
        }

        async Task WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct)
        {
            try
            {
                await _stream.WriteAsync(bytes, ct);
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                throw new RedisConnectionException(ConnectionFailureType.SocketFailure, $"Redis {_endPoint}: {ex.Message}", ex);
            }
        }

        public async Task DrainAsync(TimeSpan timeout, CancellationToken ct)
        {
            await _writing;
            Interlocked.Exchange(ref _target, Sent);
            if (Interlocked.Read(ref _replied) >= Sent)
                return;
            while (true)
            {
                var before = Interlocked.Read(ref _replied);
                try
                {
                    await _drained.Task.WaitAsync(timeout, ct);
                    return;
                }
                catch (TimeoutException) when (Interlocked.Read(ref _replied) > before)
                {
                    // Still answering, just slowly: keep waiting.
                }
                catch (TimeoutException)
                {
                    throw new RedisTimeoutException($"Redis {_endPoint} answered {Interlocked.Read(ref _replied)} of {Sent} commands and then nothing for {timeout.TotalSeconds:0} s", CommandStatus.Sent);
                }
            }
        }

        async Task ReadLoopAsync()
        {
            var buf = new byte[64 * 1024];
            int start = 0, end = 0;
            try
            {
                while (true)
                {
                    if (start > 0 && start == end)
                        start = end = 0;
                    if (end == buf.Length)
                    {
                        if (start > 0)
                        {
                            Buffer.BlockCopy(buf, start, buf, 0, end - start);
                            end -= start;
                            start = 0;
                        }
                        else
                        {
                            Array.Resize(ref buf, buf.Length * 2);
                        }
                    }
                    var n = await _stream.ReadAsync(buf.AsMemory(end), _stop.Token);
                    if (n == 0)
                        throw new IOException("connection closed by the server");
                    end += n;
                    long replies = 0;
                    while (RespReply.TryParse(buf.AsSpan(start, end - start), out var consumed, out var error))
                    {
                        start += consumed;
                        replies++;
                        if (error is not null)
                        {
                            Interlocked.Increment(ref ErrorCount);
                            lock (_errorSamples)
                                if (_errorSamples.Count < 3)
                                    _errorSamples.Add(error);
                        }
                    }
                    var total = Interlocked.Add(ref _replied, replies);
                    var target = Interlocked.Read(ref _target);
                    if (target >= 0 && total >= target)
                        _drained.TrySetResult();
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                _readFailure = ex;
                _drained.TrySetException(new RedisConnectionException(ConnectionFailureType.SocketFailure, $"Redis {_endPoint}: {ex.Message}", ex));
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try { await _writing; } catch (Exception) { /* closing anyway */ }
            _client.Dispose();
            try { await _reader; } catch (Exception) { /* closing anyway */ }
            _stop.Dispose();
        }
    }
}

/// An error reply (or several) from the bulk pipeline.
public sealed class RedisPipelineException(long errors, long commands, string first)
    : RedisException($"Redis refused {errors} of {commands} bulk commands; first: {first}")
{
    public long Errors { get; } = errors;
}

/// A growable buffer of RESP commands.
sealed class RespBuffer : IHashFieldSink
{
    byte[] _buf = new byte[FlushSize];
    int _len;
    const int FlushSize = 320 * 1024;

    public int Length => _len;
    public ReadOnlyMemory<byte> Memory => _buf.AsMemory(0, _len);

    /// Only after the memory handed to a socket write has been sent.
    public void ResetAfterSend() => _len = 0;

    Span<byte> Reserve(int n)
    {
        if (_len + n > _buf.Length)
            Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
        return _buf.AsSpan(_len);
    }

    public void Command(int args) => Prefix((byte)'*', args);

    void Prefix(byte kind, long n)
    {
        var s = Reserve(24);
        s[0] = kind;
        Utf8Formatter.TryFormat(n, s[1..], out var w);
        s[1 + w] = (byte)'\r';
        s[2 + w] = (byte)'\n';
        _len += w + 3;
    }

    public void Bulk(ReadOnlySpan<byte> value)
    {
        Prefix((byte)'$', value.Length);
        var s = Reserve(value.Length + 2);
        value.CopyTo(s);
        s[value.Length] = (byte)'\r';
        s[value.Length + 1] = (byte)'\n';
        _len += value.Length + 2;
    }

    public void Bulk(string value)
    {
        var n = Encoding.UTF8.GetByteCount(value);
        Prefix((byte)'$', n);
        var s = Reserve(n + 2);
        Encoding.UTF8.GetBytes(value, s);
        s[n] = (byte)'\r';
        s[n + 1] = (byte)'\n';
        _len += n + 2;
    }

    public void Bulk(long value)
    {
        Span<byte> b = stackalloc byte[24];
        Utf8Formatter.TryFormat(value, b, out var n);
        Bulk(b[..n]);
    }

    /// A sorted-set score, shortest text that parses back to the same double.
    public void Bulk(double value)
    {
        Span<byte> b = stackalloc byte[40];
        value.TryFormat(b, out var n, "R", System.Globalization.CultureInfo.InvariantCulture);
        Bulk(b[..n]);
    }

    /// HSET fields, as the encoder hands them over.
    public void Field(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Bulk(name);
        Bulk(value);
        LongestValue = Math.Max(LongestValue, value.Length);
    }

    /// Longest field value written since the last reset by the caller (for listpack limits).
    public int LongestValue { get; set; }
}

/// Parses one RESP2/RESP3 reply off the front of a buffer.
static class RespReply
{
    public static bool TryParse(ReadOnlySpan<byte> s, out int consumed, out string? error)
    {
        error = null;
        consumed = 0;
        if (s.IsEmpty)
            return false;
        var line = s.IndexOf("\r\n"u8);
        if (line < 0)
            return false;
        var kind = s[0];
        switch (kind)
        {
            case (byte)'-':
                error = Encoding.UTF8.GetString(s[1..line]);
                consumed = line + 2;
                return true;
            case (byte)'+' or (byte)':' or (byte)',' or (byte)'#' or (byte)'_' or (byte)'(':
                consumed = line + 2;
                return true;
            case (byte)'$' or (byte)'=' or (byte)'!':
            {
                if (!Utf8Parser.TryParse(s[1..line], out long len, out _))
                    throw new InvalidDataException("bad RESP length: " + Encoding.ASCII.GetString(s[..line]));
                if (len < 0)
                {
                    consumed = line + 2;
                    return true;
                }
                var total = line + 2 + (int)len + 2;
                if (s.Length < total)
                    return false;
                if (kind == (byte)'!')
                    error = Encoding.UTF8.GetString(s.Slice(line + 2, (int)len));
                consumed = total;
                return true;
            }
            case (byte)'*' or (byte)'~' or (byte)'>' or (byte)'%':
            {
                if (!Utf8Parser.TryParse(s[1..line], out long count, out _))
                    throw new InvalidDataException("bad RESP length: " + Encoding.ASCII.GetString(s[..line]));
                if (kind == (byte)'%')
                    count *= 2;
                var pos = line + 2;
                for (long i = 0; i < count; i++)
                {
                    if (!TryParse(s[pos..], out var c, out var inner))
                        return false;
                    error ??= inner;
                    pos += c;
                }
                consumed = pos;
                return true;
            }
            default:
                throw new InvalidDataException($"unexpected RESP reply type '{(char)kind}'");
        }
    }
}

/// Redis Cluster key hash slots: CRC16 (XMODEM) of the key, or of its {hash tag}, mod 16384.
static class HashSlots
{
    public const int Count = 16384;
    static readonly ushort[] Table = BuildTable();

    static ushort[] BuildTable()
    {
        var t = new ushort[256];
        for (var i = 0; i < 256; i++)
        {
            var crc = (ushort)(i << 8);
            for (var b = 0; b < 8; b++)
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            t[i] = crc;
        }
        return t;
    }

    public static int Of(ReadOnlySpan<byte> key)
    {
        var open = key.IndexOf((byte)'{');
        if (open >= 0)
        {
            var close = key[(open + 1)..].IndexOf((byte)'}');
            if (close > 0)
                key = key.Slice(open + 1, close);
        }
        ushort crc = 0;
        foreach (var b in key)
            crc = (ushort)((crc << 8) ^ Table[((crc >> 8) ^ b) & 0xFF]);
        return crc & (Count - 1);
    }
}
