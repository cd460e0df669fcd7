namespace Panel.Hypervisor;

/// <summary>Where the engine keeps its state and how it wires guests, for one node.</summary>
public sealed class EngineOptions
{
    /// <summary>The state folder: images, instances, snapshots, backups.</summary>
    public string StateDirectory { get; set; } = "/var/lib/vpspanel";

    /// <summary>The node bridge (one per node; a second node on the same machine uses another).</summary>
    public string BridgeName { get; set; } = "vpsbr0";

    /// <summary>
    /// The bridge's address and the guests' IPv4 network. Never overlaps the host's uplink
    /// (192.0.2.0/24 on the development machines). Guests use the bridge address as gateway;
    /// nothing is NATed to the uplink.
    /// </summary>
    public string BridgeCidr { get; set; } = "10.250.0.1/24";

    /// <summary>Optional IPv6 address and prefix of the bridge (a ULA by default off).</summary>
    public string? BridgeCidr6 { get; set; }

    /// <summary>The nftables table that holds the anti-spoofing rules of this node's guests.</summary>
    public string NftTable { get; set; } = "vpspanel";

    /// <summary>Where lxcfs is mounted.</summary>
    public string LxcfsDirectory { get; set; } = "/var/lib/lxcfs";

    /// <summary>Folder of the images (defaults to <c>StateDirectory/images</c>).</summary>
    public string ImagesDirectory
    {
        get => imagesDirectory ?? Path.Combine(StateDirectory, "images");
        set => imagesDirectory = value;
    }

    private string? imagesDirectory;

    /// <summary>Folder of the backup archives (defaults to <c>StateDirectory/backups</c>).</summary>
    public string BackupsDirectory
    {
        get => backupsDirectory ?? Path.Combine(StateDirectory, "backups");
        set => backupsDirectory = value;
    }

    private string? backupsDirectory;

    /// <summary>Folder of the instances.</summary>
    public string InstancesDirectory => Path.Combine(StateDirectory, "instances");
}
