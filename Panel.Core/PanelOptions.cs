namespace Panel.Core;

/// <summary>The <c>Panel</c> configuration section (appsettings.json or <c>Panel__X__Y</c> variables).</summary>
public sealed class PanelOptions
{
    /// <summary>The section name.</summary>
    public const string Section = "Panel";

    /// <summary>Database behaviour.</summary>
    public DatabaseOptions Database { get; set; } = new();

    /// <summary>Background-job behaviour.</summary>
    public JobsOptions Jobs { get; set; } = new();

    /// <summary>This node's virtualization engine (state folder, bridge, guest network).</summary>
    public Panel.Hypervisor.EngineOptions Engine { get; set; } = new();

    /// <summary>Backups and the hand-over folder of migrations.</summary>
    public BackupsOptions Backups { get; set; } = new();

    /// <summary>When the billing jobs run.</summary>
    public BillingOptions Billing { get; set; } = new();

    /// <summary>Outgoing mail (SMTP).</summary>
    public MailOptions Mail { get; set; } = new();

    /// <summary>The web hosting edge (reverse proxy).</summary>
    public EdgeOptions Edge { get; set; } = new();

    /// <summary>Site certificates from an ACME server (Let's Encrypt or compatible).</summary>
    public AcmeOptions Acme { get; set; } = new();
}

/// <summary>
/// The <c>Panel:Acme</c> section: where sites that chose "Let's Encrypt" get their certificates (RFC 8555, HTTP-01
/// answered by the edge on its HTTP port, which must be port 80 of the sites' public address for a real CA).
/// No directory URL: ACME is off and every site has a panel-CA certificate.
/// </summary>
public sealed class AcmeOptions
{
    /// <summary>Let's Encrypt's production directory.</summary>
    public const string LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory";

    /// <summary>The ACME server's directory URL (https), e.g. <see cref="LetsEncrypt"/>; empty: ACME off.</summary>
    public string? DirectoryUrl { get; set; }

    /// <summary>The contact email registered with the account (expiry notices), or empty for none.</summary>
    public string? Email { get; set; }

    /// <summary>
    /// A PEM file of extra CA certificates trusted for the ACME server's own HTTPS only (a private or test ACME
    /// server such as pebble); the system's trust store still applies, and nothing else the panel connects to trusts them.
    /// </summary>
    public string? TrustedCaFile { get; set; }

    /// <summary>How long one order may take in all (seconds, default 300) before it counts as failed.</summary>
    public int OrderTimeoutSeconds { get; set; } = 300;

    /// <summary>Whether ACME is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(DirectoryUrl);
}

/// <summary>How a <c>Panel:Mail:Security</c> connection is secured.</summary>
public enum MailSecurity
{
    /// <summary>TLS when the server offers STARTTLS, plain otherwise (MailKit's Auto).</summary>
    Auto,

    /// <summary>Plain SMTP (a relay on the same host).</summary>
    None,

    /// <summary>STARTTLS, required (usually port 587).</summary>
    StartTls,

    /// <summary>TLS from the first byte (usually port 465).</summary>
    Tls,
}

/// <summary>The <c>Panel:Mail</c> section: the SMTP server the outbox job sends through. No host: mail waits in the outbox.</summary>
public sealed class MailOptions
{
    /// <summary>The SMTP server's host name; empty keeps mail queued (nothing is sent or lost).</summary>
    public string? Host { get; set; }

    /// <summary>Its port (default 587).</summary>
    public int Port { get; set; } = 587;

    /// <summary>How the connection is secured (default Auto).</summary>
    public MailSecurity Security { get; set; } = MailSecurity.Auto;

    /// <summary>The user to sign in as; empty: no authentication.</summary>
    public string? User { get; set; }

    /// <summary>Its password.</summary>
    public string? Password { get; set; }

    /// <summary>The sender, e.g. <c>VpsPanel &lt;billing@example.com&gt;</c>.</summary>
    public string From { get; set; } = "VpsPanel <panel@localhost>";

    /// <summary>When the outbox job runs (cron, UTC; default every minute; empty: never).</summary>
    public string SendCron { get; set; } = "* * * * *";

    /// <summary>Seconds to wait for the SMTP server (connect and each command).</summary>
    public int TimeoutSeconds { get; set; } = 30;
}

/// <summary>The <c>Panel:Edge</c> section: the reverse proxy in front of the hosted websites.</summary>
public sealed class EdgeOptions
{
    /// <summary>Run the edge inside the panel process (default true; node agents never run it).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Where it listens for HTTP (production: port 80).</summary>
    public string HttpUrl { get; set; } = "http://127.0.0.1:8080";

    /// <summary>Where it listens for HTTPS (production: port 443); empty for none.</summary>
    public string HttpsUrl { get; set; } = "https://127.0.0.1:8443";

    /// <summary>
    /// The HTTPS port visitors reach the edge on, for the redirects of sites that force HTTPS: 0 (default) for the port
    /// of <see cref="HttpsUrl"/>; set it when a port forward sits in front (443 leaves the port out of the address).
    /// </summary>
    public int PublicHttpsPort { get; set; }

    /// <summary>Requests per second each site may receive (a token bucket), beyond which the edge answers 429.</summary>
    public int RequestsPerSecond { get; set; } = 200;

    /// <summary>The burst above the rate a site may take at once.</summary>
    public int Burst { get; set; } = 400;

    /// <summary>
    /// Milliseconds a static site's 200 answer to a plain GET is answered from the edge's memory (a micro-cache; the gate -
    /// rate limit, suspension, bytes, access log - still runs for every request; changes the panel makes clear it); 0: off.
    /// </summary>
    public int CacheMilliseconds { get; set; } = 1000;

    /// <summary>Where the SFTP gateway listens (one port per hosting space, forwarded to the space's container, port 22); empty: no gateway.</summary>
    public string SftpAddress { get; set; } = "127.0.0.1";

    /// <summary>The first gateway port a hosting space gets (each new space the lowest free one from here).</summary>
    public int SftpFirstPort { get; set; } = 2201;

    /// <summary>The host name customers are shown for SFTP (<c>sftp -P PORT web@HOST</c>); empty: <see cref="SftpAddress"/>.</summary>
    public string SftpHost { get; set; } = "";

    /// <summary>Seconds between reloads of the routes from the database when no change was signalled (other processes' changes).</summary>
    public int ReloadSeconds { get; set; } = 30;

    /// <summary>When the certificate renewal job runs (UTC cron, default daily at 03:40; empty: not scheduled).</summary>
    public string RenewCron { get; set; } = "40 3 * * *";
}

/// <summary>The <c>Panel:Billing</c> section: the schedules of the billing jobs (UTC cron; empty: not scheduled).</summary>
public sealed class BillingOptions
{
    /// <summary>The metering job (default 5 minutes past every hour). It catches up, so a missed run loses nothing.</summary>
    public string MeterCron { get; set; } = "5 * * * *";

    /// <summary>The invoice job (default 20 minutes past every hour: an invoice is issued within the hour its period ends).</summary>
    public string InvoiceCron { get; set; } = "20 * * * *";

    /// <summary>The dunning job (default 40 minutes past every hour: reminders, suspensions, terminations).</summary>
    public string DunningCron { get; set; } = "40 * * * *";

    /// <summary>When the throttle job slows VPSes that used up a throttling plan's allowance and restores them when their period ends (UTC cron; empty: not scheduled).</summary>
    public string ThrottleCron { get; set; } = "30 * * * *";
}

/// <summary>The <c>Panel:Backups</c> section.</summary>
public sealed class BackupsOptions
{
    /// <summary>
    /// The folder of backup archives, which every node must reach at the same path (a shared mount
    /// when nodes are separate machines): a backup restores on any node and a migration hands the
    /// disk over through it. Default: the engine's <c>StateDirectory/backups</c>.
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>How many backups each VPS keeps; a new one beyond that removes the oldest.</summary>
    public int KeepPerVps { get; set; } = 3;
}

/// <summary>The <c>Panel:Database</c> section.</summary>
public sealed class DatabaseOptions
{
    /// <summary>Apply pending migrations and seed at start (default true; <c>./panel up</c> relies on it).</summary>
    public bool MigrateOnStart { get; set; } = true;
}

/// <summary>The <c>Panel:Jobs</c> section.</summary>
public sealed class JobsOptions
{
    /// <summary>Run a Hangfire server inside the panel process (default true: the panel is the first node).</summary>
    public bool RunServer { get; set; } = true;

    /// <summary>Name of this node; its queue is <c>node-NAME</c>.</summary>
    public string NodeName { get; set; } = "local";

    /// <summary>Hangfire worker threads of this process.</summary>
    public int WorkerCount { get; set; } = 8;

    /// <summary>Seconds between a node's heartbeats (offline after 45 s without one).</summary>
    public int HeartbeatSeconds { get; set; } = 15;

    /// <summary>
    /// When each node's reconciliation pass runs (cron, UTC; default every minute). Empty: only at
    /// the node's start (tests that run the pass themselves, so two passes never race).
    /// </summary>
    public string ReconcileCron { get; set; } = "* * * * *";

    /// <summary>When each node samples its VPSes' usage (cron, UTC; default every minute; empty: never).</summary>
    public string MetricsCron { get; set; } = "* * * * *";

    /// <summary>
    /// When each node measures what its hosting containers' websites hold on disk (cron, UTC; default every 15
    /// minutes; empty: never). An SFTP session's end measures its space at once whatever this says.
    /// </summary>
    public string HostingContentCron { get; set; } = "*/15 * * * *";

    /// <summary>Hangfire's PostgreSQL schema.</summary>
    public string Schema { get; set; } = "hangfire";
}
