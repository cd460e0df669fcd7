namespace Panel.Hypervisor.Consoles;

/// <summary>
/// A live connection to a guest's console, as a byte stream a web terminal (xterm.js) can speak
/// to: what the guest prints comes out of <see cref="Stream"/>, keystrokes go into it.
/// </summary>
public interface IConsoleSession : IAsyncDisposable
{
    /// <summary>The terminal's byte stream.</summary>
    Stream Stream { get; }

    /// <summary>Completes when the console closed (the guest stopped, or the session was disposed).</summary>
    Task Completion { get; }

    /// <summary>Tells the guest the terminal's size.</summary>
    void Resize(int columns, int rows);
}
