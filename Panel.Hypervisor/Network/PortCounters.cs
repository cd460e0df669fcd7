using System.Globalization;

namespace Panel.Hypervisor.Network;

/// <summary>Byte counters of a guest port, from the guest's point of view (the host side's rx is the guest's tx).</summary>
public static class PortCounters
{
    /// <summary>(received by the guest, sent by the guest), or zeros when the port does not exist.</summary>
    public static (long Rx, long Tx) Read(string port)
    {
        var dir = $"/sys/class/net/{port}/statistics";
        if (!Directory.Exists(dir))
        {
            return (0, 0);
        }

        static long ReadLong(string path)
        {
            try
            {
                return long.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return 0;
            }
        }

        return (ReadLong(Path.Combine(dir, "tx_bytes")), ReadLong(Path.Combine(dir, "rx_bytes")));
    }
}
