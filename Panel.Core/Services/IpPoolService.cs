using System.Net;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Audit;
using Panel.Core.Domain.Networking;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>A pool as admins see it.</summary>
/// <param name="Id">Pool id.</param>
/// <param name="Name">Name.</param>
/// <param name="Network">CIDR.</param>
/// <param name="Gateway">Gateway.</param>
/// <param name="NodeName">The node it is pinned to, or null when shared by the network's nodes.</param>
/// <param name="Total">Addresses (for an IPv6 prefix: how many it could hand out, capped at <see cref="long.MaxValue"/>).</param>
/// <param name="Used">Addresses handed out.</param>
/// <param name="Family">4 or 6.</param>
public sealed record IpPoolView(int Id, string Name, string Network, string Gateway, string? NodeName, long Total, int Used, int Family)
{
    /// <summary>Addresses still free (IPv6: what the prefix can still hand out).</summary>
    public long Free => Total == long.MaxValue ? long.MaxValue : Math.Max(0, Total - Used);
}

/// <summary>One address of a pool and who holds it.</summary>
/// <param name="Address">The address.</param>
/// <param name="VpsId">The VPS holding it, or null when free.</param>
/// <param name="Hostname">That VPS's host name.</param>
/// <param name="OwnerEmail">Its owner.</param>
/// <param name="AllocatedAt">When it was handed out (UTC).</param>
public sealed record IpAddressRow(string Address, int? VpsId, string? Hostname, string? OwnerEmail, DateTime? AllocatedAt);

/// <summary>
/// Address pools: IPv4 ranges (a row per address, made up front) and IPv6 prefixes (one address per
/// VPS, rows made as they are handed out). Admins create them; every node's own guest network gets
/// one of each automatically.
/// </summary>
public sealed class IpPoolService(IDbContextFactory<PanelDbContext> dbFactory, AuditLog audit, TimeProvider clock)
{
    /// <summary>The largest pool (a /20): rows are made up front.</summary>
    public const int MaxAddresses = 4096;

    /// <summary>Every pool with its use. Admins only.</summary>
    public async Task<IReadOnlyList<IpPoolView>> ListAsync(Actor actor, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var rows = await db.IpPools.AsNoTracking().OrderBy(p => p.Name)
            .Select(p => new
            {
                p.Id, p.Name, p.Network, p.Gateway, p.Family,
                Node = db.Nodes.Where(n => n.Id == p.NodeId).Select(n => n.Name).FirstOrDefault(),
                Rows = p.Addresses.Count,
                Used = p.Addresses.Count(a => a.VpsId != null),
            })
            .ToListAsync(cancellationToken);
        return rows.Select(p => new IpPoolView(p.Id, p.Name, p.Network, p.Gateway, p.Node, p.Family == 6 ? PrefixCapacity(p.Network) : p.Rows, p.Used, p.Family)).ToList();
    }

    /// <summary>
    /// One page of a pool's addresses in order, with the VPS holding each (<paramref name="usedOnly"/>: only
    /// those handed out). Admins only.
    /// </summary>
    public async Task<(int Total, IReadOnlyList<IpAddressRow> Rows)> AddressesAsync(Actor actor, int poolId, bool usedOnly, int skip, int take, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var q = db.IpAddresses.AsNoTracking().Where(a => a.PoolId == poolId);
        if (usedOnly)
        {
            q = q.Where(a => a.VpsId != null);
        }

        var total = await q.CountAsync(cancellationToken);
        var page = await q.OrderBy(a => a.Address).Skip(Math.Max(0, skip)).Take(Math.Clamp(take, 1, 200))
            .Select(a => new
            {
                a.Address,
                a.VpsId,
                a.AllocatedAt,
                Vps = db.Vpses.Where(v => v.Id == a.VpsId).Select(v => new { v.Hostname, Owner = db.Users.Where(u => u.Id == v.OwnerId).Select(u => u.Email).FirstOrDefault() }).FirstOrDefault(),
            })
            .ToListAsync(cancellationToken);
        return (total, page.Select(a => new IpAddressRow(a.Address.ToString(), a.VpsId, a.Vps?.Hostname, a.Vps?.Owner, a.AllocatedAt)).ToList());
    }

    /// <summary>
    /// The IPv4 networks of this host's uplinks: the directly connected networks of every interface that
    /// carries a default route (e.g. <c>192.0.2.0/24</c> on <c>eth0</c>), read from the kernel's routing table
    /// (<c>/proc/net/route</c>). Guests never get addresses there.
    /// </summary>
    public static IReadOnlyList<IPNetwork> UplinkNetworks(string routeTable = "/proc/net/route")
    {
        if (!File.Exists(routeTable))
        {
            return [];
        }

        // Columns: Iface Destination Gateway Flags RefCnt Use Metric Mask ...; addresses in host (little-endian) hex.
        var routes = File.ReadLines(routeTable).Skip(1)
            .Select(l => l.Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Where(c => c.Length >= 8)
            .Select(c => (Iface: c[0], Destination: Hex(c[1]), Gateway: Hex(c[2]), Mask: Hex(c[7])))
            .ToList();
        var uplinks = routes.Where(r => r.Destination == 0 && r.Mask == 0 && r.Gateway != 0).Select(r => r.Iface).ToHashSet();
        return routes.Where(r => uplinks.Contains(r.Iface) && r.Mask != 0 && r.Gateway == 0)
            .Select(r => new IPNetwork(FromUInt(r.Destination), System.Numerics.BitOperations.PopCount(r.Mask)))
            .Distinct()
            .ToList();

        static uint Hex(string text) => uint.TryParse(text, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v)
            : 0;
    }

    /// <summary>Creates a pool of <paramref name="first"/>..<paramref name="last"/> inside <paramref name="network"/>. Admins only; audited.</summary>
    public async Task<int> CreateAsync(Actor actor, string name, string network, string gateway, string first, string last, string? nodeName = null, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        var range = Parse(name, network, gateway, first, last);
        if (UplinkNetworks().Where(u => Overlaps(u, range.Subnet)).Select(u => (IPNetwork?)u).FirstOrDefault() is { } uplink)
        {
            throw new PanelRefusedException($"{range.Subnet} overlaps this host's uplink network {uplink}; guests never get addresses there", "Network");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        int? nodeId = null;
        if (!string.IsNullOrEmpty(nodeName))
        {
            nodeId = await db.Nodes.Where(n => n.Name == nodeName).Select(n => (int?)n.Id).FirstOrDefaultAsync(cancellationToken)
                ?? throw new PanelRefusedException($"no node '{nodeName}'", "Node");
        }

        var id = await InsertAsync(db, range, nodeId, cancellationToken);
        await audit.RecordAsync(actor, AuditActions.IpPoolCreated, $"pool:{name}", $"{first}-{last} in {network}", cancellationToken);
        return id;
    }

    /// <summary>Creates an IPv6 pool: one address per VPS out of <paramref name="prefix"/> (/48 to /120). Admins only; audited.</summary>
    public async Task<int> CreatePrefixAsync(Actor actor, string name, string prefix, string gateway, string? nodeName = null, CancellationToken cancellationToken = default)
    {
        Require.Admin(actor);
        if (string.IsNullOrWhiteSpace(name) || name.Length > 80)
        {
            throw new PanelRefusedException("a pool needs a name of up to 80 characters", "Name");
        }

        if (!IPNetwork.TryParse(prefix ?? "", out var net) || net.BaseAddress.AddressFamily != AddressFamily.InterNetworkV6 || net.PrefixLength is < 48 or > 120)
        {
            throw new PanelRefusedException($"'{prefix}' is not an IPv6 prefix such as fd56:5650:1::/64 (48-120)", "Network");
        }

        if (!IPAddress.TryParse(gateway ?? "", out var gw) || gw.AddressFamily != AddressFamily.InterNetworkV6 || !net.Contains(gw))
        {
            throw new PanelRefusedException($"'{gateway}' is not an IPv6 address inside {net}", "Gateway");
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        int? nodeId = null;
        if (!string.IsNullOrEmpty(nodeName))
        {
            nodeId = await db.Nodes.Where(n => n.Name == nodeName).Select(n => (int?)n.Id).FirstOrDefaultAsync(cancellationToken)
                ?? throw new PanelRefusedException($"no node '{nodeName}'", "Node");
        }

        var id = await InsertPrefixAsync(db, name.Trim(), net, gw, nodeId, cancellationToken);
        await audit.RecordAsync(actor, AuditActions.IpPoolCreated, $"pool:{name}", $"IPv6 {net}", cancellationToken);
        return id;
    }

    /// <summary>
    /// Hands out an IPv6 address of one of <paramref name="poolIds"/> to a VPS inside the caller's
    /// transaction: a freed one first, otherwise the pool's next host number (under the pool's row
    /// lock). Null when no pool has one left.
    /// </summary>
    internal static async Task<IPAddress?> AllocateV6Async(PanelDbContext db, int[] poolIds, int vpsId, DateTime now, CancellationToken cancellationToken)
    {
        var free = await db.Database
            .SqlQuery<long>($"SELECT id AS \"Value\" FROM ip_addresses WHERE vps_id IS NULL AND pool_id = ANY({poolIds}) ORDER BY address LIMIT 1 FOR UPDATE SKIP LOCKED")
            .ToListAsync(cancellationToken);
        if (free.Count > 0)
        {
            await db.IpAddresses.Where(a => a.Id == free[0]).ExecuteUpdateAsync(s => s.SetProperty(a => a.VpsId, vpsId).SetProperty(a => a.AllocatedAt, now), cancellationToken);
            return await db.IpAddresses.Where(a => a.Id == free[0]).Select(a => a.Address).FirstAsync(cancellationToken);
        }

        var pools = await db.IpPools.FromSql($"SELECT * FROM ip_pools WHERE id = ANY({poolIds}) AND family = 6 ORDER BY id FOR UPDATE").ToListAsync(cancellationToken);
        foreach (var pool in pools)
        {
            var net = IPNetwork.Parse(pool.Network);
            if (pool.NextHost >= PrefixCapacity(pool.Network) - 1)
            {
                continue;
            }

            var address = AddHost(net.BaseAddress, pool.NextHost);
            pool.NextHost++;
            if (address.Equals(IPAddress.Parse(pool.Gateway)))
            {
                address = AddHost(net.BaseAddress, pool.NextHost);
                pool.NextHost++;
            }

            db.IpAddresses.Add(new IpAddress { PoolId = pool.Id, Address = address, VpsId = vpsId, AllocatedAt = now });
            await db.SaveChangesAsync(cancellationToken);
            return address;
        }

        return null;
    }

    /// <summary>
    /// Makes sure a node's guest networks have a shared pool (called at each node's heartbeat): a new
    /// IPv4 network gets one covering its subnet except the first ten addresses (gateway and spares);
    /// a new IPv6 network gets its prefix, handing out from host number 0x100.
    /// </summary>
    public async Task EnsureForNetworkAsync(string bridgeCidr, string? bridgeCidr6, CancellationToken cancellationToken = default)
    {
        await EnsureForNetworkAsync(bridgeCidr, cancellationToken);
        if (string.IsNullOrEmpty(bridgeCidr6))
        {
            return;
        }

        var (gw6, net6) = ParseBridge6(bridgeCidr6);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var text = net6.ToString();
        if (await db.IpPools.AnyAsync(p => p.Network == text, cancellationToken))
        {
            return;
        }

        try
        {
            await InsertPrefixAsync(db, "net6-" + text.Replace('/', '-').Replace(':', '-'), net6, gw6, null, cancellationToken);
        }
        catch (PanelRefusedException)
        {
            // Another node on the same network made it at the same moment.
        }
    }

    /// <summary>The IPv6 network of a bridge address in CIDR form (<c>fd56:5650:1::1/64</c> → gateway fd56:5650:1::1, prefix fd56:5650:1::/64).</summary>
    public static (IPAddress Gateway, IPNetwork Prefix) ParseBridge6(string bridgeCidr6)
    {
        var slash = (bridgeCidr6 ?? "").IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(bridgeCidr6![..slash], out var gw) || !int.TryParse(bridgeCidr6[(slash + 1)..], out var prefix)
            || gw.AddressFamily != AddressFamily.InterNetworkV6 || prefix is < 48 or > 120)
        {
            throw new PanelRefusedException($"'{bridgeCidr6}' is not an IPv6 address with a prefix (48-120)", "Network");
        }

        var bytes = gw.GetAddressBytes();
        for (var bit = prefix; bit < 128; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return (gw, new IPNetwork(new IPAddress(bytes), prefix));
    }

    /// <summary>Makes sure a node's IPv4 guest network has a shared pool.</summary>
    public async Task EnsureForNetworkAsync(string bridgeCidr, CancellationToken cancellationToken = default)
    {
        var (gateway, subnet) = ParseBridge(bridgeCidr);
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        var text = subnet.ToString();
        if (await db.IpPools.AnyAsync(p => p.Network == text, cancellationToken))
        {
            return;
        }

        var size = 1L << (32 - subnet.PrefixLength);
        var offset = size > 32 ? 10 : 2;
        var first = Add(subnet.BaseAddress, offset);
        var last = Add(subnet.BaseAddress, Math.Min(size - 2, offset + MaxAddresses - 1));
        var range = Parse("net-" + text.Replace('/', '-'), text, gateway.ToString(), first.ToString(), last.ToString());
        try
        {
            await InsertAsync(db, range, null, cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Another node on the same network made it at the same moment.
        }
    }

    /// <summary>The network of a bridge address in CIDR form (<c>10.250.0.1/24</c> → gateway 10.250.0.1, subnet 10.250.0.0/24).</summary>
    public static (IPAddress Gateway, IPNetwork Subnet) ParseBridge(string bridgeCidr)
    {
        var slash = (bridgeCidr ?? "").IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(bridgeCidr![..slash], out var gw) || !int.TryParse(bridgeCidr[(slash + 1)..], out var prefix)
            || gw.AddressFamily != AddressFamily.InterNetwork || prefix is < 8 or > 30)
        {
            throw new PanelRefusedException($"'{bridgeCidr}' is not an IPv4 address with a prefix", "Network");
        }

        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        return (gw, new IPNetwork(FromUInt(ToUInt(gw) & mask), prefix));
    }

    private async Task<int> InsertAsync(PanelDbContext db, PoolRange range, int? nodeId, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var lo = ToUInt(range.First);
        var hi = ToUInt(range.Last);
        var overlap = await db.Database.SqlQuery<bool>($"SELECT EXISTS (SELECT 1 FROM ip_addresses WHERE address BETWEEN {range.First} AND {range.Last}) AS \"Value\"").SingleAsync(cancellationToken);
        if (overlap || await db.IpPools.AnyAsync(p => p.Name == range.Name, cancellationToken))
        {
            throw new PanelRefusedException(overlap ? "the range overlaps an existing pool" : $"a pool named '{range.Name}' exists", overlap ? "First" : "Name");
        }

        var pool = new IpPool
        {
            Name = range.Name,
            Network = range.Subnet.ToString(),
            Gateway = range.Gateway.ToString(),
            NodeId = nodeId,
            CreatedAt = now,
        };
        for (var ip = lo; ip <= hi; ip++)
        {
            var address = FromUInt(ip);
            if (!address.Equals(range.Gateway))
            {
                pool.Addresses.Add(new IpAddress { Address = address });
            }
        }

        db.IpPools.Add(pool);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            throw new PanelRefusedException("the range overlaps an existing pool", "First");
        }

        return pool.Id;
    }

    private async Task<int> InsertPrefixAsync(PanelDbContext db, string name, IPNetwork net, IPAddress gateway, int? nodeId, CancellationToken cancellationToken)
    {
        var text = net.ToString();
        if (await db.IpPools.AnyAsync(p => p.Name == name || p.Network == text, cancellationToken))
        {
            throw new PanelRefusedException($"a pool named '{name}' or for {text} exists", "Name");
        }

        var pool = new IpPool { Name = name, Network = text, Gateway = gateway.ToString(), Family = 6, NextHost = Math.Min(0x100, PrefixCapacity(text) / 2), NodeId = nodeId, CreatedAt = clock.GetUtcNow().UtcDateTime };
        db.IpPools.Add(pool);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            throw new PanelRefusedException($"a pool named '{name}' exists", "Name");
        }

        return pool.Id;
    }

    private static long PrefixCapacity(string network)
    {
        var bits = 128 - IPNetwork.Parse(network).PrefixLength;
        return bits >= 63 ? long.MaxValue : 1L << bits;
    }

    private static IPAddress AddHost(IPAddress baseAddress, long host)
    {
        var bytes = baseAddress.GetAddressBytes();
        var carry = (ulong)host;
        for (var i = 15; i >= 0 && carry > 0; i--)
        {
            var sum = bytes[i] + (carry & 0xff);
            bytes[i] = (byte)sum;
            carry = (carry >> 8) + (sum >> 8);
        }

        return new IPAddress(bytes);
    }

    private sealed record PoolRange(string Name, IPNetwork Subnet, IPAddress Gateway, IPAddress First, IPAddress Last);

    private static PoolRange Parse(string name, string network, string gateway, string first, string last)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 80)
        {
            throw new PanelRefusedException("a pool needs a name of up to 80 characters", "Name");
        }

        if (!IPNetwork.TryParse(network ?? "", out var subnet) || subnet.BaseAddress.AddressFamily != AddressFamily.InterNetwork || subnet.PrefixLength is < 8 or > 30)
        {
            throw new PanelRefusedException($"'{network}' is not an IPv4 network such as 192.0.2.0/24 (prefix 8-30)", "Network");
        }

        IPAddress Address(string? text, string field)
            => IPAddress.TryParse(text ?? "", out var a) && a.AddressFamily == AddressFamily.InterNetwork && subnet.Contains(a)
               && !a.Equals(subnet.BaseAddress) && !a.Equals(Add(subnet.BaseAddress, (1L << (32 - subnet.PrefixLength)) - 1))
                ? a
                : throw new PanelRefusedException($"'{text}' is not a host address inside {subnet}", field);

        var gw = Address(gateway, "Gateway");
        var lo = Address(first, "First");
        var hi = Address(last, "Last");
        if (ToUInt(hi) < ToUInt(lo))
        {
            throw new PanelRefusedException("the last address comes before the first", "Last");
        }

        if (ToUInt(hi) - ToUInt(lo) + 1 > MaxAddresses)
        {
            throw new PanelRefusedException($"a pool holds at most {MaxAddresses} addresses", "Last");
        }

        return new PoolRange(name.Trim(), subnet, gw, lo, hi);
    }

    private static bool Overlaps(IPNetwork a, IPNetwork b) => a.Contains(b.BaseAddress) || b.Contains(a.BaseAddress);

    private static uint ToUInt(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    private static IPAddress FromUInt(uint v) => new([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);

    private static IPAddress Add(IPAddress a, long n) => FromUInt((uint)(ToUInt(a) + n));
}
