namespace Panel.Core.Services;

/// <summary>
/// A request the panel refuses with a reason the user can act on (bad input, no room, busy, wrong
/// state). Nothing was allocated or changed. <see cref="Field"/> names the input at fault, if one is.
/// </summary>
public sealed class PanelRefusedException : Exception
{
    /// <summary>Creates a refusal.</summary>
    public PanelRefusedException(string message, string? field = null)
        : base(message) => Field = field;

    /// <summary>Creates a refusal.</summary>
    public PanelRefusedException()
    {
    }

    /// <summary>Creates a refusal.</summary>
    public PanelRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The input at fault (e.g. <c>Hostname</c>), or null.</summary>
    public string? Field { get; }
}

/// <summary>Something the caller may not see or does not exist; shown as "not found" so ids of others leak nothing.</summary>
public sealed class PanelNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PanelNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public PanelNotFoundException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public PanelNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
