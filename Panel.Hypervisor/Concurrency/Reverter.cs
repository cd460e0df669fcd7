namespace Panel.Hypervisor.Concurrency;

/// <summary>
/// Incus's reverter: each finished step of a mutating operation registers its undo; if the
/// operation fails before <see cref="Success"/>, disposing runs the undos newest first.
/// An undo that fails is recorded, never thrown over the original error.
/// </summary>
public sealed class Reverter : IAsyncDisposable
{
    private readonly Stack<(string Step, Func<Task> Undo)> undos = new();
    private bool succeeded;

    /// <summary>Undo steps that themselves failed while reverting (for logs and tests).</summary>
    public List<string> Failures { get; } = [];

    /// <summary>Registers how to undo a step that just finished.</summary>
    public void Add(string step, Func<Task> undo) => undos.Push((step, undo));

    /// <summary>Registers a synchronous undo.</summary>
    public void Add(string step, Action undo) => undos.Push((step, () =>
    {
        undo();
        return Task.CompletedTask;
    }));

    /// <summary>The operation completed: keep every step.</summary>
    public void Success() => succeeded = true;

    /// <summary>Runs the undos (newest first) unless <see cref="Success"/> was called.</summary>
    public async ValueTask DisposeAsync()
    {
        if (succeeded)
        {
            return;
        }

        while (undos.TryPop(out var u))
        {
            try
            {
                await u.Undo();
            }
#pragma warning disable CA1031 // An undo must not mask the error that triggered the revert.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Failures.Add($"{u.Step}: {ex.Message}");
            }
        }
    }
}
