namespace Panel.Hypervisor.Drivers.Qemu.Qmp;

/// <summary>
/// The QMP monitor cannot be reached or its connection is gone (QEMU exited, the socket closed, or
/// QEMU sent something that is not QMP). Commands waiting for an answer fail with it at once.
/// </summary>
public sealed class QmpConnectionException : Exception
{
    /// <summary>Creates a connection error.</summary>
    public QmpConnectionException()
        : this("the QMP connection is closed")
    {
    }

    /// <summary>Creates a connection error.</summary>
    public QmpConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates a connection error with its cause.</summary>
    public QmpConnectionException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
