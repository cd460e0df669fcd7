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

    /// <summary>Hangfire's PostgreSQL schema.</summary>
    public string Schema { get; set; } = "hangfire";
}
