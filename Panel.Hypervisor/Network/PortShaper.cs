using System.Globalization;
using Panel.Hypervisor.Processes;

namespace Panel.Hypervisor.Network;

/// <summary>
/// Per-port speed towards the guest: a tc token bucket on the host side of its port. What the guest
/// sends is policed by its nft chain (<see cref="AntiSpoofRules.ApplyAsync"/>): tc classifiers and
/// police actions are missing from some kernels (this machine's among them), qdiscs are not.
/// </summary>
public sealed class PortShaper(IProcessRunner runner)
{
    /// <summary>Caps the guest-bound direction of <paramref name="port"/> at <paramref name="mbit"/> Mbit/s, or removes the caps when null.</summary>
    /// <param name="port">The host-side interface.</param>
    /// <param name="mbit">The cap, or null for none.</param>
    /// <param name="freshPort">The port was just created (it has no qdiscs yet), so nothing needs removing.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public async Task ApplyAsync(string port, int? mbit, bool freshPort = false, CancellationToken cancellationToken = default)
    {
        if (freshPort && mbit is null)
        {
            return;
        }

        if (!freshPort)
        {
            await runner.RunAsync("tc", ["qdisc", "del", "dev", port, "root"], null, cancellationToken);
        }

        if (mbit is not { } rate)
        {
            return;
        }

        var r = rate.ToString(CultureInfo.InvariantCulture) + "mbit";
        // Burst: at least 10 ms worth of traffic, so TCP can reach the rate.
        var burst = Math.Max(32_000, rate * 1_000_000 / 8 / 100).ToString(CultureInfo.InvariantCulture);
        (await runner.RunAsync("tc", ["qdisc", "add", "dev", port, "root", "tbf", "rate", r, "burst", burst, "latency", "50ms"], null, cancellationToken)).ThrowIfFailed();
    }
}
