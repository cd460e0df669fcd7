namespace Panel.Core.Domain.Operations;

/// <summary>What an operation does to a VPS.</summary>
public enum OperationKind
{
    /// <summary>Create and start a new VPS.</summary>
    Provision,

    /// <summary>Power on.</summary>
    Start,

    /// <summary>Clean shutdown (then forced after a grace period).</summary>
    Stop,

    /// <summary>Immediate power off.</summary>
    ForceStop,

    /// <summary>Stop and start.</summary>
    Reboot,

    /// <summary>Remove the VPS and free what it holds.</summary>
    Delete,

    /// <summary>Reinstall with an image.</summary>
    Reinstall,

    /// <summary>Change plan.</summary>
    Resize,

    /// <summary>Take a snapshot.</summary>
    Snapshot,

    /// <summary>Restore a snapshot.</summary>
    Restore,

    /// <summary>Make a backup.</summary>
    Backup,

    /// <summary>Move to another node (stopped).</summary>
    Migrate,

    /// <summary>Stop and lock (billing or admin).</summary>
    Suspend,

    /// <summary>Lift a suspension.</summary>
    Unsuspend,

    /// <summary>New root password and SSH keys.</summary>
    ResetAccess,

    /// <summary>Remove a snapshot.</summary>
    DeleteSnapshot,

    /// <summary>Put a VPS back to one of its backups.</summary>
    RestoreBackup,

    /// <summary>Remove a backup.</summary>
    DeleteBackup,

    /// <summary>Slow the port to the plan's throttle speed until the billing period ends (traffic allowance used up).</summary>
    Throttle,

    /// <summary>Give the port its plan's speed back (the throttled billing period ended).</summary>
    Unthrottle,
}

/// <summary>Where an operation is.</summary>
public enum OperationStatus
{
    /// <summary>Accepted, waiting for its job.</summary>
    Queued,

    /// <summary>Its job is working.</summary>
    Running,

    /// <summary>Done.</summary>
    Succeeded,

    /// <summary>Failed; <see cref="Operation.Error"/> says why.</summary>
    Failed,

    /// <summary>Refused before anything was allocated (bad input, no room, busy).</summary>
    Refused,
}

/// <summary>One thing done (or refused) to a VPS: who asked, when, how far it got, how it ended. Pages show it live.</summary>
public sealed class Operation
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>The VPS, or null for a create that was refused before a VPS existed.</summary>
    public int? VpsId { get; set; }

    /// <summary>The customer the VPS belongs to (for refused creates: who asked).</summary>
    public Guid? OwnerId { get; set; }

    /// <summary>The node its job runs on.</summary>
    public int? NodeId { get; set; }

    /// <summary>Who asked (user id), or null for the system.</summary>
    public Guid? ActorId { get; set; }

    /// <summary>Who asked, readable (email or "system").</summary>
    public string ActorName { get; set; } = "";

    /// <summary>What it does.</summary>
    public OperationKind Kind { get; set; }

    /// <summary>Where it is.</summary>
    public OperationStatus Status { get; set; }

    /// <summary>0-100.</summary>
    public int Progress { get; set; }

    /// <summary>The current or last step, readable.</summary>
    public string? Step { get; set; }

    /// <summary>Why it failed or was refused, readable.</summary>
    public string? Error { get; set; }

    /// <summary>Inputs the job needs (JSON), cleared of secrets when done.</summary>
    public string? Parameters { get; set; }

    /// <summary>The Hangfire job running it.</summary>
    public string? JobId { get; set; }

    /// <summary>How many times a job started it (more than one after a crash or a retry).</summary>
    public int Attempts { get; set; }

    /// <summary>When it was asked for (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>When its job first started (UTC).</summary>
    public DateTime? StartedAt { get; set; }

    /// <summary>When it ended (UTC).</summary>
    public DateTime? FinishedAt { get; set; }

    /// <summary>Its steps, in order.</summary>
    public List<OperationEvent> Events { get; set; } = [];

    /// <summary>Whether it has ended.</summary>
    public bool IsFinished => Status is OperationStatus.Succeeded or OperationStatus.Failed or OperationStatus.Refused;
}

/// <summary>One step of an operation.</summary>
public sealed class OperationEvent
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>The operation.</summary>
    public long OperationId { get; set; }

    /// <summary>When (UTC).</summary>
    public DateTime At { get; set; }

    /// <summary>Progress at this step (0-100).</summary>
    public int Progress { get; set; }

    /// <summary>What happened, readable.</summary>
    public string Message { get; set; } = "";

    /// <summary>Whether this step is a failure.</summary>
    public bool IsError { get; set; }
}
