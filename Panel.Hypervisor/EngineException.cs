namespace Panel.Hypervisor;

/// <summary>What went wrong, for callers that map engine errors to user messages or retries.</summary>
public enum EngineErrorCode
{
    /// <summary>A value in the request is not acceptable; <see cref="EngineException.Field"/> names it.</summary>
    InvalidSpec,

    /// <summary>An instance with that id already exists.</summary>
    AlreadyExists,

    /// <summary>No instance with that id exists.</summary>
    NotFound,

    /// <summary>The instance is in a state that does not allow the operation (for example deleting a running one without force).</summary>
    InvalidState,

    /// <summary>The driver cannot run on this host (see its probe).</summary>
    DriverUnavailable,

    /// <summary>A host command or kernel interface failed; the message carries its output.</summary>
    HostFailure,

    /// <summary>The operation did not finish in time.</summary>
    Timeout,

    /// <summary>A backup archive is damaged, truncated or not a backup; it was refused before anything was changed.</summary>
    CorruptBackup,

    /// <summary>The driver does not offer this operation (yet).</summary>
    NotSupported,
}

/// <summary>The engine's one exception type: a code, the offending field when there is one, and a readable message.</summary>
public sealed class EngineException : Exception
{
    /// <summary>Creates an engine error.</summary>
    public EngineException(EngineErrorCode code, string message, string? field = null, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        Field = field;
    }

    /// <summary>Creates an engine error (for serializers and analyzers; prefer the coded constructor).</summary>
    public EngineException()
        : this(EngineErrorCode.HostFailure, "engine error")
    {
    }

    /// <summary>Creates an engine error (prefer the coded constructor).</summary>
    public EngineException(string message)
        : this(EngineErrorCode.HostFailure, message)
    {
    }

    /// <summary>Creates an engine error (prefer the coded constructor).</summary>
    public EngineException(string message, Exception innerException)
        : this(EngineErrorCode.HostFailure, message, null, innerException)
    {
    }

    /// <summary>The kind of failure.</summary>
    public EngineErrorCode Code { get; }

    /// <summary>The spec field at fault (for <see cref="EngineErrorCode.InvalidSpec"/>), e.g. <c>Hostname</c>.</summary>
    public string? Field { get; }

    /// <summary>An invalid-spec error for one field.</summary>
    public static EngineException Invalid(string field, string reason) => new(EngineErrorCode.InvalidSpec, $"{field}: {reason}", field);
}
