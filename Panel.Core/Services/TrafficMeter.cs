using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;
using Panel.Core.Domain.Metrics;
using Panel.Core.Persistence;

namespace Panel.Core.Services;

/// <summary>
/// Turns the node's cumulative port counters into billable traffic. <see cref="RecordAsync"/> stores a
/// batch of minute samples (<c>vps_metrics</c>, keyed by VPS and minute) and, for each sample it stored,
/// adds its delta against the VPS's last counted sample (<c>vps_traffic_counters</c>, locked) to the VPS's
/// traffic of that UTC day (<c>vps_traffic_days</c>) - in one transaction. So a sample counts exactly once:
/// a repeated or concurrent run of the same minute stores nothing and adds nothing, a sample older than
/// the last counted one adds nothing (its bytes are in the newer one's delta), and a restart of the node
/// loses nothing (the last counters are in the database).
/// </summary>
/// <remarks>
/// Delta per direction: now − before, or now itself when the counter went back (the guest's port was made
/// anew: a restart, a migration to another node). The first sample of a VPS counts whole (the counters
/// start with the guest's port). Bytes a guest moved after its last sample and before its port went away
/// are not seen. Traffic is charged per billing period (<c>BillingRules</c>): periods start at 00:00 UTC,
/// so a period's traffic is the sum of its days.
/// </remarks>
public static class TrafficMeter
{
    /// <summary>Stores <paramref name="samples"/> and counts their traffic; returns how many samples were new.</summary>
    public static async Task<int> RecordAsync(PanelDbContext db, IReadOnlyCollection<VpsMetric> samples, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0)
        {
            return 0;
        }

        // In VPS order: concurrent runs take the counter rows' locks in the same order.
        var ordered = samples.OrderBy(s => s.VpsId).ThenBy(s => s.At).ToList();
        var ids = ordered.Select(s => s.VpsId).Distinct().ToArray();
        var own = db.Database.CurrentTransaction is null;
        await using var tx = own ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
        var conn = (NpgsqlConnection)db.Database.GetDbConnection();
        var transaction = (NpgsqlTransaction)db.Database.CurrentTransaction!.GetDbTransaction();

        // 1. Every VPS has a counter row ("nothing counted yet": 0 bytes at -infinity), locked for this transaction.
        var counters = new Dictionary<int, (DateTime At, long Rx, long Tx)>();
        await using (var batch = new NpgsqlBatch(conn, transaction))
        {
            batch.BatchCommands.Add(Command(
                "INSERT INTO vps_traffic_counters (vps_id, at, rx_bytes, tx_bytes) SELECT id, '-infinity', 0, 0 FROM unnest($1) AS x(id) ORDER BY id ON CONFLICT (vps_id) DO NOTHING",
                Array(ids, NpgsqlDbType.Integer)));
            batch.BatchCommands.Add(Command(
                "SELECT vps_id, at, rx_bytes, tx_bytes FROM vps_traffic_counters WHERE vps_id = ANY($1) ORDER BY vps_id FOR UPDATE",
                Array(ids, NpgsqlDbType.Integer)));
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                // -infinity reads as DateTime.MinValue.
                counters[reader.GetInt32(0)] = (reader.GetDateTime(1), reader.GetInt64(2), reader.GetInt64(3));
            }
        }

        // 2. The samples; RETURNING names the ones that were new.
        var stored = new HashSet<(int, DateTime)>();
        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO vps_metrics (vps_id, at, cpu_time_ms, rx_bytes, tx_bytes, cpu_percent, memory_bytes, disk_used_bytes, rx_bytes_per_second, tx_bytes_per_second)
            SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (vps_id, at) DO NOTHING
            RETURNING vps_id, at
            """, conn, transaction))
        {
            insert.Parameters.Add(Array(ordered.Select(s => s.VpsId).ToArray(), NpgsqlDbType.Integer));
            insert.Parameters.Add(Array(ordered.Select(s => s.At).ToArray(), NpgsqlDbType.TimestampTz));
            insert.Parameters.Add(Array(ordered.Select(s => s.CpuTimeMs).ToArray(), NpgsqlDbType.Bigint));
            insert.Parameters.Add(Array(ordered.Select(s => s.RxBytes).ToArray(), NpgsqlDbType.Bigint));
            insert.Parameters.Add(Array(ordered.Select(s => s.TxBytes).ToArray(), NpgsqlDbType.Bigint));
            insert.Parameters.Add(Array(ordered.Select(s => s.CpuPercent).ToArray(), NpgsqlDbType.Double));
            insert.Parameters.Add(Array(ordered.Select(s => s.MemoryBytes).ToArray(), NpgsqlDbType.Bigint));
            insert.Parameters.Add(Array(ordered.Select(s => s.DiskUsedBytes).ToArray(), NpgsqlDbType.Bigint));
            insert.Parameters.Add(Array(ordered.Select(s => s.RxBytesPerSecond).ToArray(), NpgsqlDbType.Double));
            insert.Parameters.Add(Array(ordered.Select(s => s.TxBytesPerSecond).ToArray(), NpgsqlDbType.Double));
            await using var reader = await insert.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                stored.Add((reader.GetInt32(0), DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc)));
            }
        }

        // 3. Deltas, oldest sample first per VPS.
        var days = new Dictionary<(int Vps, DateOnly Day), long>();
        var changed = new HashSet<int>();
        foreach (var s in ordered.Where(s => stored.Contains((s.VpsId, s.At))))
        {
            var last = counters[s.VpsId];
            if (s.At <= last.At)
            {
                continue; // older than one already counted
            }

            var delta = Delta(s.RxBytes, last.Rx) + Delta(s.TxBytes, last.Tx);
            counters[s.VpsId] = (s.At, s.RxBytes, s.TxBytes);
            changed.Add(s.VpsId);
            if (delta > 0)
            {
                var key = (s.VpsId, DateOnly.FromDateTime(s.At));
                days[key] = days.GetValueOrDefault(key) + delta;
            }
        }

        if (changed.Count > 0)
        {
            var moved = changed.Order().ToArray();
            await using var batch = new NpgsqlBatch(conn, transaction);
            batch.BatchCommands.Add(Command(
                """
                UPDATE vps_traffic_counters c SET at = x.at, rx_bytes = x.rx, tx_bytes = x.tx
                FROM unnest($1, $2, $3, $4) AS x(vps_id, at, rx, tx) WHERE c.vps_id = x.vps_id
                """,
                Array(moved, NpgsqlDbType.Integer), Array(moved.Select(v => counters[v].At).ToArray(), NpgsqlDbType.TimestampTz),
                Array(moved.Select(v => counters[v].Rx).ToArray(), NpgsqlDbType.Bigint), Array(moved.Select(v => counters[v].Tx).ToArray(), NpgsqlDbType.Bigint)));
            if (days.Count > 0)
            {
                var keys = days.Keys.OrderBy(k => k.Vps).ThenBy(k => k.Day).ToList();
                batch.BatchCommands.Add(Command(
                    """
                    INSERT INTO vps_traffic_days (vps_id, day, bytes) SELECT * FROM unnest($1, $2, $3)
                    ON CONFLICT (vps_id, day) DO UPDATE SET bytes = vps_traffic_days.bytes + excluded.bytes
                    """,
                    Array(keys.Select(k => k.Vps).ToArray(), NpgsqlDbType.Integer), Array(keys.Select(k => k.Day).ToArray(), NpgsqlDbType.Date),
                    Array(keys.Select(k => days[k]).ToArray(), NpgsqlDbType.Bigint)));
            }

            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        if (tx is not null)
        {
            await tx.CommitAsync(cancellationToken);
        }

        return stored.Count;
    }

    /// <summary>Bytes moved since the previous reading of a cumulative counter: the difference, or the whole value when it went back.</summary>
    public static long Delta(long now, long before) => now >= before ? now - before : now;

    /// <summary>Traffic of <paramref name="vpsIds"/> in [<paramref name="start"/>, <paramref name="end"/>) (whole UTC days), per VPS.</summary>
    internal static async Task<Dictionary<int, long>> BytesAsync(PanelDbContext db, IReadOnlyCollection<int> vpsIds, DateTime start, DateTime end, CancellationToken cancellationToken)
    {
        var (from, to) = (DateOnly.FromDateTime(start), DateOnly.FromDateTime(end));
        return await db.VpsTrafficDays.AsNoTracking().Where(t => vpsIds.Contains(t.VpsId) && t.Day >= from && t.Day < to)
            .GroupBy(t => t.VpsId).Select(g => new { g.Key, Bytes = g.Sum(t => t.Bytes) })
            .ToDictionaryAsync(x => x.Key, x => x.Bytes, cancellationToken);
    }

    private static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }

    private static NpgsqlParameter Array<T>(T[] values, NpgsqlDbType type) => new() { Value = values, NpgsqlDbType = NpgsqlDbType.Array | type };
}
