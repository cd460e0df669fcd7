using System.Security.Cryptography;
using System.Text;

namespace Panel.Hypervisor.Network;

/// <summary>The host-side interface name of a guest's port: <c>vp</c> + 10 hex digits of the id's hash (15-character kernel limit).</summary>
public static class PortName
{
    /// <summary>What every guest port's name starts with (the anti-spoofing table denies unknown ones by this prefix).</summary>
    public const string Prefix = "vp";

    /// <summary>The port name for an instance id.</summary>
    public static string For(string instanceId)
        => Prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(instanceId)))[..10];
}
