using System.Collections.Concurrent;

namespace Panel.Core.Hosting;

/// <summary>One request the edge answered for a site.</summary>
/// <param name="At">When it ended (UTC).</param>
/// <param name="Client">The client's address.</param>
/// <param name="Method">The HTTP method.</param>
/// <param name="Host">The Host it asked for (the domain or an alias).</param>
/// <param name="Path">The path and query (at most 300 characters).</param>
/// <param name="Status">The status code answered.</param>
/// <param name="ResponseBytes">Bytes sent back (headers estimated, body exact).</param>
/// <param name="Milliseconds">How long it took at the edge.</param>
/// <param name="UserAgent">The client's User-Agent (at most 200 characters), or null.</param>
public sealed record SiteRequest(DateTime At, string Client, string Method, string Host, string Path, int Status, long ResponseBytes, double Milliseconds, string? UserAgent);

/// <summary>
/// The recent requests of each site, as the edge of this process saw them: a bounded ring per site (the
/// newest <see cref="Capacity"/>), kept in memory only - a restart starts it empty, and the byte counts
/// that matter for bandwidth are in <c>site_traffic</c>. Callers reach it through
/// <c>HostingService.AccessLogAsync</c>, which checks that the site is the caller's.
/// </summary>
public sealed class SiteAccessLog
{
    /// <summary>Requests kept per site.</summary>
    public const int Capacity = 200;

    private readonly ConcurrentDictionary<int, Ring> rings = new();

    /// <summary>Records a request of a site.</summary>
    public void Add(int siteId, SiteRequest request) => rings.GetOrAdd(siteId, _ => new Ring()).Add(request);

    /// <summary>The site's recent requests, newest first.</summary>
    public IReadOnlyList<SiteRequest> Recent(int siteId, int take = Capacity)
        => rings.TryGetValue(siteId, out var ring) ? ring.Newest(Math.Clamp(take, 1, Capacity)) : [];

    /// <summary>Forgets the requests of sites that no longer exist.</summary>
    public void Retain(IReadOnlySet<int> siteIds)
    {
        ArgumentNullException.ThrowIfNull(siteIds);
        foreach (var id in rings.Keys.Where(k => !siteIds.Contains(k)))
        {
            rings.TryRemove(id, out _);
        }
    }

    private sealed class Ring
    {
        private readonly SiteRequest[] items = new SiteRequest[Capacity];
        private int next;
        private int count;

        public void Add(SiteRequest request)
        {
            lock (items)
            {
                items[next] = request;
                next = (next + 1) % Capacity;
                count = Math.Min(count + 1, Capacity);
            }
        }

        public SiteRequest[] Newest(int take)
        {
            lock (items)
            {
                var n = Math.Min(take, count);
                var result = new SiteRequest[n];
                for (var i = 0; i < n; i++)
                {
                    result[i] = items[(next - 1 - i + Capacity) % Capacity];
                }

                return result;
            }
        }
    }
}
