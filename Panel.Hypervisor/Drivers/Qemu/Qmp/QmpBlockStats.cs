namespace Panel.Hypervisor.Drivers.Qemu.Qmp;

/// <summary>The I/O counters of one block device (an entry of <c>query-blockstats</c>), cumulative since QEMU started.</summary>
/// <param name="Device">The device: its drive id (<c>device</c>), or its guest device path (<c>qdev</c>) for <c>-blockdev</c> disks.</param>
/// <param name="NodeName">The block node name, when QEMU gives one.</param>
/// <param name="ReadBytes">Bytes read (<c>rd_bytes</c>).</param>
/// <param name="WriteBytes">Bytes written (<c>wr_bytes</c>).</param>
/// <param name="ReadOperations">Read requests (<c>rd_operations</c>).</param>
/// <param name="WriteOperations">Write requests (<c>wr_operations</c>).</param>
public sealed record QmpBlockStats(string Device, string? NodeName, long ReadBytes, long WriteBytes, long ReadOperations, long WriteOperations);
