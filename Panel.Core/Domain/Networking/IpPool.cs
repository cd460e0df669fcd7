namespace Panel.Core.Domain.Networking;

/// <summary>
/// A range of IPv4 addresses, or an IPv6 prefix, on one guest network. A pool serves every node whose guest network
/// (its bridge's subnet) is the pool's network - all nodes on that L2 segment, so a VPS keeps its
/// address when it moves between them - or only the node it is pinned to.
/// </summary>
public sealed class IpPool
{
    /// <summary>Database identity.</summary>
    public int Id { get; set; }

    /// <summary>Unique name.</summary>
    public string Name { get; set; } = "";

    /// <summary>4 for an IPv4 range (every address has a row from the start), 6 for an IPv6 prefix (rows are made as addresses are handed out).</summary>
    public int Family { get; set; } = 4;

    /// <summary>IPv6: the host number (offset in the prefix) the next new address gets.</summary>
    public long NextHost { get; set; }

    /// <summary>The network in CIDR form, e.g. <c>10.250.0.0/24</c> or <c>fd56:5650:1::/64</c>.</summary>
    public string Network { get; set; } = "";

    /// <summary>The gateway guests use (the node bridge's address).</summary>
    public string Gateway { get; set; } = "";

    /// <summary>When set, only this node uses the pool.</summary>
    public int? NodeId { get; set; }

    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Its addresses (one row each, made when the pool is created).</summary>
    public List<IpAddress> Addresses { get; set; } = [];
}

/// <summary>One address of a pool; free when <see cref="VpsId"/> is null.</summary>
public sealed class IpAddress
{
    /// <summary>Database identity.</summary>
    public long Id { get; set; }

    /// <summary>The pool.</summary>
    public int PoolId { get; set; }

    /// <summary>The pool.</summary>
    public IpPool Pool { get; set; } = default!;

    /// <summary>The address (PostgreSQL <c>inet</c>), unique in the installation.</summary>
    public System.Net.IPAddress Address { get; set; } = System.Net.IPAddress.None;

    /// <summary>The VPS holding it, or null.</summary>
    public int? VpsId { get; set; }

    /// <summary>When it was handed out (UTC).</summary>
    public DateTime? AllocatedAt { get; set; }
}
