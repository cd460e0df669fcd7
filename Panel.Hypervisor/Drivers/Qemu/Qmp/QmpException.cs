namespace Panel.Hypervisor.Drivers.Qemu.Qmp;

/// <summary>
/// QEMU answered a command with an error (<c>{"error": {"class": …, "desc": …}}</c>), or a
/// human-monitor command printed an error text.
/// </summary>
public sealed class QmpException : Exception
{
    /// <summary>The error class QEMU uses for almost every failure.</summary>
    public const string GenericError = "GenericError";

    /// <summary>Creates the error of one command.</summary>
    /// <param name="command">The command QEMU refused (for human-monitor commands, its command line).</param>
    /// <param name="errorClass">QEMU's error class, e.g. <c>GenericError</c> or <c>CommandNotFound</c>.</param>
    /// <param name="description">QEMU's description of the error.</param>
    public QmpException(string command, string errorClass, string description)
        : base($"QEMU refused '{command}': {errorClass}: {description}")
    {
        Command = command;
        ErrorClass = errorClass;
        Description = description;
    }

    /// <summary>Creates a QMP error (for serializers and analyzers; prefer the command constructor).</summary>
    public QmpException()
        : this("QMP error")
    {
    }

    /// <summary>Creates a QMP error (prefer the command constructor).</summary>
    public QmpException(string message)
        : base(message)
    {
        Command = string.Empty;
        ErrorClass = GenericError;
        Description = message;
    }

    /// <summary>Creates a QMP error (prefer the command constructor).</summary>
    public QmpException(string message, Exception innerException)
        : base(message, innerException)
    {
        Command = string.Empty;
        ErrorClass = GenericError;
        Description = message;
    }

    /// <summary>The command QEMU refused.</summary>
    public string Command { get; }

    /// <summary>QEMU's error class (<c>class</c>).</summary>
    public string ErrorClass { get; }

    /// <summary>QEMU's description (<c>desc</c>).</summary>
    public string Description { get; }
}
