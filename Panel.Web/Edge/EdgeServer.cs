using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Panel.Core;
using Panel.Core.Hosting;
using Panel.Core.Hosting.Acme;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Model;

namespace Panel.Web.Edge;

/// <summary>
/// The hosting edge: a YARP reverse proxy on its own Kestrel listeners (<c>Panel:Edge:HttpUrl</c> and
/// <c>HttpsUrl</c>) inside the panel process. One route per site matches its names (Host header; SNI picks
/// its certificate on HTTPS) and forwards to its web server in the tenant's container on the bridge.
/// Routes are reloaded from the database when a site changes (<see cref="EdgeSignal"/>) and every
/// <c>ReloadSeconds</c>, through YARP's in-memory provider (<c>Update</c>: requests in flight finish on
/// the old config, nothing is dropped). Unknown hosts get a 404 page, suspended sites a 503 page, the sites of a
/// tenant who used up the plan's monthly traffic a 509 page (checked at each flush, so within ~10 s); every
/// request's bytes are counted per site (flushed to <c>site_traffic</c>) and each site has a token bucket.
/// Behind the gate, a micro-cache (<see cref="EdgeCache"/>) answers repeated GETs of a static page for up to
/// <c>CacheMilliseconds</c>: the tenants' web servers fork per connection, so this is what lets one page take load.
/// Before any routing, plain-HTTP requests for <c>/.well-known/acme-challenge/TOKEN</c> are answered from
/// <see cref="AcmeChallengeStore"/> when the token belongs to that host (suspended sites too: their certificate still renews).
/// HTTPS sends each site's full chain (an ACME certificate's intermediates too).
/// </summary>
public sealed class EdgeServer(
    EdgeDirectory directory, EdgeSignal signal, SiteAccessLog accessLog, EdgeStatus status, AcmeChallengeStore challenges, PanelOptions options, TimeProvider clock, ILogger<EdgeServer> logger)
    : IHostedService, IAsyncDisposable
{
    private readonly SemaphoreSlim reloadLock = new(1, 1);
    private readonly ConcurrentDictionary<int, TokenBucketRateLimiter> limiters = new();
    private readonly ConcurrentDictionary<int, SiteCounter> counters = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly EdgeCache cache = new(options.Edge.CacheMilliseconds, clock);
    private WebApplication? app;
    private InMemoryConfigProvider? provider;
    private Dictionary<string, SslStreamCertificateContext> certificates = new(StringComparer.OrdinalIgnoreCase);
    private Dictionary<int, (string Pem, SslStreamCertificateContext Context)> contextsBySite = [];
    private X509Certificate2? fallback;
    private SslStreamCertificateContext? fallbackContext;
    private Task? background;
    private HashSet<int> overAllowance = [];
    private EdgeHealth health = EdgeStatus.NotRunning with { Problem = "starting" };

    /// <summary>Where it listens for HTTP once started.</summary>
    public Uri? HttpAddress { get; private set; }

    /// <summary>Where it listens for HTTPS once started, or null.</summary>
    public Uri? HttpsAddress { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var edge = options.Edge;
        var http = Endpoint(edge.HttpUrl);
        var https = string.IsNullOrWhiteSpace(edge.HttpsUrl) ? null : Endpoint(edge.HttpsUrl);
        fallback = FallbackCertificate();
        fallbackContext = SslStreamCertificateContext.Create(fallback, null, offline: true);

        // Empty urls/ports on the command line win over ASPNETCORE_URLS and ASPNETCORE_HTTP_PORTS (the panel's own
        // address), which the host reads as it is made: otherwise Kestrel warns it is "overriding" them.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Panel.Edge", ContentRootPath = AppContext.BaseDirectory, Args = ["--urls=", "--http_ports=", "--https_ports="] });
        builder.Configuration.Sources.Clear(); // not the panel's urls or settings: the edge listens where it is told
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrelHttpsConfiguration(); // the slim builder leaves HTTPS out
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(http);
            if (https is not null)
            {
                k.Listen(https, l => l.UseHttps(new TlsHandshakeCallbackOptions
                {
                    OnConnection = context => ValueTask.FromResult(new SslServerAuthenticationOptions
                    {
                        ServerCertificateContext = SelectCertificate(context.ClientHelloInfo.ServerName),
                        ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
                    }),
                }));
            }
        });
        builder.Services.AddSingleton<IHostLifetime, HostedLifetime>(); // the panel's host owns Ctrl-C and SIGTERM
        builder.Services.AddReverseProxy().LoadFromMemory([], []);
        app = builder.Build();
        provider = app.Services.GetRequiredService<InMemoryConfigProvider>();
        app.Use(AcmeChallengeAsync);
        app.MapReverseProxy(proxy => proxy.Use(SiteGateAsync));
        app.MapFallback(context => PageAsync(context, StatusCodes.Status404NotFound, "No website here",
            "This address does not belong to any website hosted on this server."));

        await ReloadAsync(cancellationToken);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException ex)
        {
            // A port in use must not take the panel down: say so and serve the panel without its edge.
            logger.LogError("edge: cannot listen on {Http} / {Https}: {Message}; websites are not served", edge.HttpUrl, edge.HttpsUrl, ex.Message);
            Publish(health with { Running = false, Listening = [], Problem = $"cannot listen on {edge.HttpUrl} / {edge.HttpsUrl}: {ex.Message}" });
            await app.DisposeAsync();
            app = null;
            return;
        }

        HttpAddress = new Uri($"http://{http}");
        HttpsAddress = https is null ? null : new Uri($"https://{https}");
        Publish(health with
        {
            Running = true,
            Listening = HttpsAddress is null ? [HttpAddress.ToString().TrimEnd('/')] : [HttpAddress.ToString().TrimEnd('/'), HttpsAddress.ToString().TrimEnd('/')],
            Problem = null,
            StartedAt = clock.GetUtcNow().UtcDateTime,
        });
        signal.Changed += OnChanged;
        background = Task.Run(() => BackgroundAsync(stopping.Token), CancellationToken.None);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        signal.Changed -= OnChanged;
        await stopping.CancelAsync();
        if (background is not null)
        {
            await background;
        }

        if (app is not null)
        {
            await app.StopAsync(cancellationToken);
        }

        await FlushAsync(CancellationToken.None);
        Publish(health with { Running = false, Problem = "stopped" });
    }

    /// <summary>Reads the sites again and swaps the proxy's routes and the certificates.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        await reloadLock.WaitAsync(cancellationToken);
        try
        {
            IReadOnlyList<EdgeSite> sites;
            try
            {
                sites = await directory.LoadAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Publish(health with { Problem = "the last reload failed: " + ex.Message });
                throw;
            }

            var routes = new List<RouteConfig>();
            var clusters = new List<ClusterConfig>();
            var certs = new Dictionary<string, SslStreamCertificateContext>(StringComparer.OrdinalIgnoreCase);
            var bySite = new Dictionary<int, (string Pem, SslStreamCertificateContext Context)>();
            foreach (var site in sites.Where(s => s.Names.Count > 0))
            {
                var id = site.SiteId.ToString(CultureInfo.InvariantCulture);
                var state = site.Suspended ? "suspended" : site.OverAllowance ? "over-allowance" : site.Destination is null ? "unavailable" : "active";
                var metadata = new Dictionary<string, string> { ["site"] = id, ["state"] = state };
                if (site.ForceHttps && site.CertificatePem is not null && HttpsAddress is { } listening)
                {
                    // Only with a certificate and an HTTPS listener: a redirect to nothing would take the site down.
                    var port = options.Edge.PublicHttpsPort is > 0 and <= 65535 ? options.Edge.PublicHttpsPort : listening.Port;
                    metadata["https"] = port.ToString(CultureInfo.InvariantCulture);
                }

                routes.Add(new RouteConfig
                {
                    RouteId = "site-" + id,
                    ClusterId = "site-" + id,
                    Match = new RouteMatch { Hosts = [.. site.Names], Path = "{**rest}" },
                    Metadata = metadata,
                });
                clusters.Add(new ClusterConfig
                {
                    ClusterId = "site-" + id,
                    Destinations = site.Destination is null
                        ? new Dictionary<string, DestinationConfig>()
                        : new Dictionary<string, DestinationConfig> { ["web"] = new() { Address = site.Destination } },
                });
                if (site.CertificatePem is not null && site.KeyPem is not null)
                {
                    // Unchanged since the last reload: the same context (no PEM parsing or chain building per reload).
                    var context = contextsBySite.TryGetValue(site.SiteId, out var loaded) && loaded.Pem == site.CertificatePem
                        ? loaded.Context
                        : CertificateContext(site.CertificatePem, site.KeyPem);
                    bySite[site.SiteId] = (site.CertificatePem, context);
                    foreach (var name in site.Names)
                    {
                        certs[name] = context;
                    }
                }
            }

            provider!.Update(routes, clusters);
            cache.Clear();
            var old = certificates;
            certificates = certs;
            contextsBySite = bySite;
            foreach (var context in old.Values.Distinct())
            {
                // Handshakes in flight may still hold the old one: let the GC finalize it instead of disposing it under them.
                GC.KeepAlive(context);
            }

            var known = sites.Select(s => s.SiteId).ToHashSet();
            foreach (var id in limiters.Keys.Where(k => !known.Contains(k)))
            {
                if (limiters.TryRemove(id, out var limiter))
                {
                    limiter.Dispose();
                }
            }

            accessLog.Retain(known);
            var routed = sites.Where(s => s.Names.Count > 0).ToList();
            Publish(health with
            {
                Problem = app is null && health.StartedAt is null ? health.Problem : null,
                Routes = routed.Count,
                Active = routed.Count(s => !s.Suspended && !s.OverAllowance && s.Destination is not null),
                Suspended = routed.Count(s => s.Suspended),
                Unavailable = routed.Count(s => !s.Suspended && !s.OverAllowance && s.Destination is null),
                OverAllowance = routed.Count(s => !s.Suspended && s.OverAllowance),
                Certificates = [.. routed.Where(s => s.CertificatePem is not null).Select(s => new EdgeCertificateView(s.SiteId, s.Names, certs[s.Names[0]].TargetCertificate.NotAfter.ToUniversalTime())).OrderBy(c => c.NotAfter)],
                LastReloadAt = clock.GetUtcNow().UtcDateTime,
            });
        }
        finally
        {
            reloadLock.Release();
        }
    }

    /// <summary>Writes the bytes counted since the last flush into <c>site_traffic</c>.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var batch = new Dictionary<int, (long, long, long)>();
        foreach (var (id, counter) in counters)
        {
            var taken = counter.Take();
            if (taken.Requests > 0)
            {
                batch[id] = taken;
            }
        }

        if (batch.Count > 0)
        {
            await directory.AddTrafficAsync(clock.GetUtcNow().UtcDateTime, batch, cancellationToken);

            // A tenant who just used up their plan's traffic gets the bandwidth page from the next request on, not at the next reload.
            var over = (await directory.SpacesOverAllowanceAsync(cancellationToken)).ToHashSet();
            if (!over.SetEquals(overAllowance))
            {
                overAllowance = over;
                if (provider is not null)
                {
                    await ReloadAsync(cancellationToken);
                }
            }
        }
    }

    private SslStreamCertificateContext? SelectCertificate(string? name)
        => name is not null && certificates.TryGetValue(name, out var context) ? context : fallbackContext;

    /// <summary>A site's certificate with the rest of its chain (PEM: leaf first, then intermediates), sent whole in the handshake.</summary>
    private static SslStreamCertificateContext CertificateContext(string certificatePem, string keyPem)
    {
        var leaf = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(certificatePem);
        var intermediates = new X509Certificate2Collection();
        foreach (var cert in chain.Skip(1))
        {
            intermediates.Add(cert);
        }

        return SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
    }

    /// <summary>HTTP-01: the key authorization of a running order, for the name it was issued for, on plain HTTP only.</summary>
    private async Task AcmeChallengeAsync(HttpContext context, Func<Task> next)
    {
        var request = context.Request;
        if (!request.IsHttps && HttpMethods.IsGet(request.Method)
            && request.Path.StartsWithSegments(AcmeChallengeStore.PathPrefix, StringComparison.Ordinal, out var rest)
            && rest.Value is { Length: > 1 } tail && tail.IndexOf('/', 1) < 0
            && await challenges.AnswerAsync(request.Host.Host, tail[1..], context.RequestAborted) is { } answer)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/octet-stream";
            context.Response.Headers.CacheControl = "no-store";
            await context.Response.WriteAsync(answer, context.RequestAborted);
            return;
        }

        await next();
    }

    /// <summary>301 (GET, HEAD) or 308 (keeps the method and body) to the same host, path and query over HTTPS.</summary>
    private static void RedirectToHttps(HttpContext context, string port)
    {
        var request = context.Request;
        var host = request.Host.Host; // one of the site's names (routes match by name)
        var authority = port == "443" ? host : host + ":" + port;
        context.Response.StatusCode = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)
            ? StatusCodes.Status301MovedPermanently
            : StatusCodes.Status308PermanentRedirect;
        context.Response.Headers.Location = "https://" + authority + request.PathBase + request.Path + request.QueryString;
        context.Response.Headers.CacheControl = "no-cache"; // a change of the setting takes effect in browsers at once
    }

    private async Task SiteGateAsync(HttpContext context, Func<Task> next)
    {
        var route = context.GetReverseProxyFeature().Route.Config;
        var siteId = int.Parse(route.Metadata!["site"], CultureInfo.InvariantCulture);
        var counter = counters.GetOrAdd(siteId, _ => new SiteCounter());
        var started = clock.GetTimestamp();
        var cacheKey = route.Metadata["state"] == "active" ? cache.KeyFor(context.Request, siteId) : null;
        var requestBody = new CountingStream(context.Request.Body);
        var responseBody = new CountingStream(context.Response.Body, cacheKey is null ? 0 : EdgeCache.MaxBodyBytes);
        context.Request.Body = requestBody;
        context.Response.Body = responseBody;
        try
        {
            var limiter = limiters.GetOrAdd(siteId, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(1, options.Edge.Burst),
                TokensPerPeriod = Math.Max(1, options.Edge.RequestsPerSecond),
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
            using var lease = limiter.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                context.Response.Headers.RetryAfter = "1";
                await PageAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests", "This website receives more requests than it may at the moment; try again in a second.");
                return;
            }

            if (!context.Request.IsHttps && route.Metadata.TryGetValue("https", out var httpsPort)
                && !context.Request.Path.StartsWithSegments(AcmeChallengeStore.PathPrefix, StringComparison.Ordinal))
            {
                RedirectToHttps(context, httpsPort);
                return;
            }

            switch (route.Metadata["state"])
            {
                case "suspended":
                    await PageAsync(context, StatusCodes.Status503ServiceUnavailable, "Website suspended", "This website is suspended. If it is yours, see your hosting account.");
                    return;
                case "over-allowance":
                    await PageAsync(context, 509, "Bandwidth limit reached", "This website has used its hosting plan's traffic for this month. If it is yours, see your hosting account.");
                    return;
                case "unavailable":
                    await PageAsync(context, StatusCodes.Status502BadGateway, "Website not available yet", "This website's server is being set up or is not running.");
                    return;
                default:
                    if (cacheKey is not null && await cache.TryServeAsync(context, cacheKey))
                    {
                        return;
                    }

                    await next();
                    if (cacheKey is not null)
                    {
                        cache.Store(cacheKey, context.Response, responseBody.Captured);
                    }

                    return;
            }
        }
        finally
        {
            var responseBytes = HeaderBytes(context.Response) + responseBody.Bytes;
            counter.Add(HeaderBytes(context.Request) + requestBody.Bytes, responseBytes);
            var request = context.Request;
            var path = request.Path.Value + request.QueryString.Value;
            var agent = request.Headers.UserAgent.ToString();
            accessLog.Add(siteId, new SiteRequest(
                clock.GetUtcNow().UtcDateTime,
                context.Connection.RemoteIpAddress?.ToString() ?? "-",
                request.Method,
                request.Host.Host,
                path.Length > 300 ? path[..300] : path,
                context.Response.StatusCode,
                responseBytes,
                Math.Round(clock.GetElapsedTime(started).TotalMilliseconds, 1),
                agent.Length == 0 ? null : agent.Length > 200 ? agent[..200] : agent));
        }
    }

    private void Publish(EdgeHealth next)
    {
        health = next;
        status.Set(next);
    }

    private static long HeaderBytes(HttpRequest r)
        => r.Method.Length + r.Path.Value?.Length + r.QueryString.Value?.Length + r.Protocol.Length + 4 + r.Headers.Sum(h => h.Key.Length + h.Value.ToString().Length + 4) ?? 0;

    private static long HeaderBytes(HttpResponse r) => 17 + r.Headers.Sum(h => h.Key.Length + h.Value.ToString().Length + 4);

    private static Task PageAsync(HttpContext context, int status, string title, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var html = $"<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
            + $"<body style=\"font-family:sans-serif;margin:4em\"><h1>{title}</h1><p>{text}</p></body></html>\n";
        return context.Response.WriteAsync(html);
    }

    private void OnChanged()
    {
        cache.Clear(); // at once: the change the caller just made is what the next request must see
        _ = Task.Run(ReloadInBackgroundAsync);
    }

    private async Task ReloadInBackgroundAsync()
    {
        try
        {
            await ReloadAsync(stopping.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("edge: reloading the routes failed: {Message}", ex.Message);
        }
    }

    private async Task BackgroundAsync(CancellationToken cancellationToken)
    {
        var reloadEvery = TimeSpan.FromSeconds(Math.Max(1, options.Edge.ReloadSeconds));
        var flushEvery = TimeSpan.FromSeconds(10);
        var lastReload = clock.GetUtcNow();
        using var timer = new PeriodicTimer(flushEvery, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await FlushAsync(cancellationToken);
                    if (clock.GetUtcNow() - lastReload >= reloadEvery)
                    {
                        lastReload = clock.GetUtcNow();
                        await ReloadAsync(cancellationToken);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning("edge: background pass failed: {Message}", ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private static IPEndPoint Endpoint(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
        {
            throw new InvalidOperationException($"Panel:Edge: '{url}' is not a URL with an IP address and port, e.g. http://127.0.0.1:8080");
        }

        return new IPEndPoint(ip, uri.Port);
    }

    /// <summary>A self-signed certificate for names no site has, so the handshake completes and the 404 page shows.</summary>
    private static X509Certificate2 FallbackCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=unknown.invalid", key, HashAlgorithmName.SHA256);
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));
    }

    private int disposed;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // The container disposes it once per registration (the edge and the hosted service): the second is a no-op.
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        if (app is not null)
        {
            await app.DisposeAsync();
            app = null;
        }

        foreach (var limiter in limiters.Values)
        {
            limiter.Dispose();
        }

        fallback?.Dispose();
        stopping.Dispose();
        reloadLock.Dispose();
    }

    /// <summary>A lifetime that hooks no signals: the edge stops when the panel's host stops it.</summary>
    private sealed class HostedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class SiteCounter
    {
        private long requests;
        private long bytesIn;
        private long bytesOut;

        public void Add(long inBytes, long outBytes)
        {
            Interlocked.Increment(ref requests);
            Interlocked.Add(ref bytesIn, inBytes);
            Interlocked.Add(ref bytesOut, outBytes);
        }

        public (long Requests, long In, long Out) Take()
            => (Interlocked.Exchange(ref requests, 0), Interlocked.Exchange(ref bytesIn, 0), Interlocked.Exchange(ref bytesOut, 0));
    }
}
