using System.Collections.Concurrent;

namespace Panel.Hypervisor.Concurrency;

/// <summary>One operation at a time per instance, within this engine process (jobs add a database lock across processes).</summary>
public sealed class InstanceLocks
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> locks = new(StringComparer.Ordinal);

    /// <summary>Waits for the instance's lock; dispose the result to release it.</summary>
    public async Task<IDisposable> AcquireAsync(string id, CancellationToken cancellationToken = default)
    {
        var gate = locks.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        return new Releaser(gate);
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
