namespace Panel.Core.Hosting;

/// <summary>Tells the edge (in this process) that sites, names or certificates changed, so it reloads its routes now.</summary>
public sealed class EdgeSignal
{
    /// <summary>Raised after a change is committed.</summary>
    public event Action? Changed;

    /// <summary>Raises <see cref="Changed"/>.</summary>
    public void Notify() => Changed?.Invoke();
}
