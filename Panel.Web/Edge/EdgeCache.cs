using System.Collections.Concurrent;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Panel.Web.Edge;

/// <summary>
/// The edge's micro-cache for static sites: a 200 answer to a plain GET (no query-independent tricks: the key is
/// site, host and path with query) is kept in memory for <c>Panel:Edge:CacheMilliseconds</c> (default 1000) and
/// answered from there, so a page that is asked for many times a second costs its web server one request a
/// second. The site's gate still runs first for every request (rate limit, suspension page, bytes, access log).
/// Not cached: requests with Authorization, Range or conditional headers, answers with Set-Cookie, Vary,
/// Cache-Control no-store/no-cache/private, or bodies over 256 KiB. Cleared on every change the panel signals
/// (upload, file manager, sites, suspensions) and on every reload, so the panel's own edits show at once. When an
/// entry expires, one request fetches it anew while the others get the expired copy (for at most 5 s more).
/// </summary>
internal sealed class EdgeCache(int milliseconds, TimeProvider clock)
{
    /// <summary>The largest body kept.</summary>
    public const int MaxBodyBytes = 256 * 1024;

    private const int MaxEntries = 10_000;
    private const long StaleSeconds = 5;
    private static readonly HashSet<string> Skipped = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Connection, HeaderNames.KeepAlive, HeaderNames.TransferEncoding, HeaderNames.Date, HeaderNames.Server, HeaderNames.ContentLength, "Proxy-Connection", HeaderNames.Upgrade, HeaderNames.TE, HeaderNames.Trailer,
    };

    private ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);

    /// <summary>Whether caching is on.</summary>
    public bool Enabled => milliseconds > 0;

    /// <summary>Forgets everything (a change was signalled).</summary>
    public void Clear() => entries = new ConcurrentDictionary<string, Entry>(StringComparer.Ordinal);

    /// <summary>The key of a cacheable request, or null when this request must go to the site's server.</summary>
    public string? KeyFor(HttpRequest request, int siteId)
    {
        if (!Enabled || !HttpMethods.IsGet(request.Method))
        {
            return null;
        }

        var h = request.Headers;
        if (h.ContainsKey(HeaderNames.Authorization) || h.ContainsKey(HeaderNames.Range) || h.ContainsKey(HeaderNames.IfNoneMatch)
            || h.ContainsKey(HeaderNames.IfModifiedSince) || h.ContainsKey(HeaderNames.IfMatch) || h.ContainsKey(HeaderNames.IfUnmodifiedSince) || h.ContainsKey(HeaderNames.IfRange)
            || (h.CacheControl.ToString() is { Length: > 0 } cc && cc.Contains("no-cache", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        return string.Concat(siteId.ToString(System.Globalization.CultureInfo.InvariantCulture), " ", request.Host.Value?.ToLowerInvariant(), " ", request.Path.Value, request.QueryString.Value);
    }

    /// <summary>Answers from the cache when it holds a fresh copy.</summary>
    public async Task<bool> TryServeAsync(HttpContext context, string key)
    {
        if (!entries.TryGetValue(key, out var entry))
        {
            return false;
        }

        var now = clock.GetTimestamp();
        if (now > entry.ExpiresAt)
        {
            // Expired: one request goes to the site's server for a fresh copy; the others meanwhile get this one, for at
            // most a few seconds (a page's whole load arriving at its forking web server at once would overflow its backlog).
            if (now > entry.ExpiresAt + (StaleSeconds * clock.TimestampFrequency) || Interlocked.CompareExchange(ref entry.Refreshing, 1, 0) == 0)
            {
                return false;
            }
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        foreach (var (name, value) in entry.Headers)
        {
            response.Headers[name] = value;
        }

        response.Headers["X-Edge-Cache"] = "hit";
        response.ContentLength = entry.Body.Length;
        await response.Body.WriteAsync(entry.Body, context.RequestAborted);
        return true;
    }

    /// <summary>Keeps the answer just forwarded, if it may be kept.</summary>
    public void Store(string key, HttpResponse response, byte[]? body)
    {
        if (body is null || response.StatusCode != StatusCodes.Status200OK || (response.ContentLength is { } length && length != body.Length))
        {
            return;
        }

        var h = response.Headers;
        if (h.ContainsKey(HeaderNames.SetCookie) || h.ContainsKey(HeaderNames.Vary)
            || (h.CacheControl.ToString() is { Length: > 0 } cc && (cc.Contains("no-store", StringComparison.OrdinalIgnoreCase) || cc.Contains("no-cache", StringComparison.OrdinalIgnoreCase) || cc.Contains("private", StringComparison.OrdinalIgnoreCase))))
        {
            return;
        }

        var map = entries;
        if (map.Count >= MaxEntries)
        {
            Clear();
            map = entries;
        }

        var headers = h.Where(kv => !Skipped.Contains(kv.Key)).Select(kv => new KeyValuePair<string, StringValues>(kv.Key, kv.Value)).ToArray();
        map[key] = new Entry(body, headers, clock.GetTimestamp() + (long)(milliseconds / 1000.0 * clock.TimestampFrequency));
    }

    private sealed class Entry(byte[] body, KeyValuePair<string, StringValues>[] headers, long expiresAt)
    {
        /// <summary>1 once a request went to fetch a fresh copy of an expired entry.</summary>
        public int Refreshing;

        public byte[] Body { get; } = body;

        public KeyValuePair<string, StringValues>[] Headers { get; } = headers;

        public long ExpiresAt { get; } = expiresAt;
    }
}
