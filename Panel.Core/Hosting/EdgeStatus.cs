namespace Panel.Core.Hosting;

/// <summary>A site certificate the edge serves.</summary>
/// <param name="SiteId">The site.</param>
/// <param name="Names">The names it covers.</param>
/// <param name="NotAfter">When it expires (UTC).</param>
public sealed record EdgeCertificateView(int SiteId, IReadOnlyList<string> Names, DateTime NotAfter);

/// <summary>The edge's health as its last start and reload left it.</summary>
/// <param name="Running">Whether this process's edge listens.</param>
/// <param name="Listening">Where it listens (e.g. <c>http://127.0.0.1:8080</c>).</param>
/// <param name="Problem">Why it does not run (disabled, a port in use), or the last reload's error.</param>
/// <param name="Routes">Routes loaded (one per site with names).</param>
/// <param name="Active">Routes forwarding to a running container.</param>
/// <param name="Suspended">Routes answering with the suspension page.</param>
/// <param name="Unavailable">Routes whose container is not running (answered 502).</param>
/// <param name="OverAllowance">Routes whose tenant used up the plan's monthly traffic (answered 509).</param>
/// <param name="Certificates">The site certificates loaded, soonest expiry first.</param>
/// <param name="LastReloadAt">When the routes were last loaded (UTC), or null.</param>
/// <param name="StartedAt">When the edge started listening (UTC), or null.</param>
public sealed record EdgeHealth(
    bool Running, IReadOnlyList<string> Listening, string? Problem, int Routes, int Active, int Suspended, int Unavailable,
    IReadOnlyList<EdgeCertificateView> Certificates, DateTime? LastReloadAt, DateTime? StartedAt, int OverAllowance = 0);

/// <summary>Where the edge (in Panel.Web) publishes its health for the admin pages; "not running" until it starts.</summary>
public sealed class EdgeStatus
{
    /// <summary>The health of an edge that is not running in this process.</summary>
    public static readonly EdgeHealth NotRunning = new(false, [], "The edge does not run in this process (Panel:Edge:Enabled is false).", 0, 0, 0, 0, [], null, null);

    /// <summary>The latest health.</summary>
    public EdgeHealth Current { get; private set; } = NotRunning;

    /// <summary>Publishes a new health.</summary>
    public void Set(EdgeHealth health) => Current = health ?? throw new ArgumentNullException(nameof(health));
}
