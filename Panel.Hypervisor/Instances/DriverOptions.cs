namespace Panel.Hypervisor.Instances;

// Every driver call takes an options record (libvirt's lesson: no "...Flags" twins later).

/// <summary>Options of <see cref="IInstanceDriver.ProbeAsync"/>.</summary>
/// <param name="Refresh">Ignore a cached result.</param>
public sealed record ProbeOptions(bool Refresh = false);

/// <summary>Options of <see cref="IInstanceDriver.CreateAsync"/>.</summary>
/// <param name="Spec">The instance to create.</param>
public sealed record CreateOptions(InstanceSpec Spec);

/// <summary>Options of <see cref="IInstanceDriver.StartAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="Timeout">How long to wait for it to run.</param>
public sealed record StartOptions(string Id, TimeSpan? Timeout = null);

/// <summary>Options of <see cref="IInstanceDriver.StopAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="GracePeriod">How long a clean shutdown may take before the instance is killed; zero kills at once.</param>
public sealed record StopOptions(string Id, TimeSpan? GracePeriod = null);

/// <summary>Options of <see cref="IInstanceDriver.RestartAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="GracePeriod">As for stop.</param>
public sealed record RestartOptions(string Id, TimeSpan? GracePeriod = null);

/// <summary>Options of freeze and unfreeze.</summary>
/// <param name="Id">The instance.</param>
public sealed record FreezeOptions(string Id);

/// <summary>Options of <see cref="IInstanceDriver.DeleteAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="Force">Stop it first when it runs (otherwise a running instance is refused).</param>
public sealed record DeleteOptions(string Id, bool Force = false);

/// <summary>Options of <see cref="IInstanceDriver.UpdateLimitsAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="Limits">The new limits. CPU, memory, processes and speed apply at once when running; disk can only grow.</param>
public sealed record UpdateLimitsOptions(string Id, InstanceLimits Limits);

/// <summary>Options of <see cref="IInstanceDriver.GetStateAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="WithMetrics">Also read usage figures.</param>
public sealed record StateOptions(string Id, bool WithMetrics = true);

/// <summary>Options of <see cref="IInstanceDriver.ExecAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="Command">Program and arguments (never a shell string; pass <c>sh -c</c> explicitly if a shell is wanted).</param>
/// <param name="Timeout">Kill the command after this long.</param>
/// <param name="StdIn">Text written to the command's standard input.</param>
public sealed record ExecOptions(string Id, IReadOnlyList<string> Command, TimeSpan? Timeout = null, string? StdIn = null);

/// <summary>Options of <see cref="IInstanceDriver.ResetAccessAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="Access">The new root password and keys.</param>
public sealed record ResetAccessOptions(string Id, GuestAccess Access);

/// <summary>Options of the snapshot calls.</summary>
/// <param name="Id">The instance.</param>
/// <param name="Name">The snapshot name (letters, digits, dash, underscore, dot; 1-64).</param>
public sealed record SnapshotOptions(string Id, string Name);

/// <summary>Options of <see cref="IInstanceDriver.RecoverAsync"/>.</summary>
/// <param name="StartStopped">Also start instances that are defined but stopped (autostart after a host reboot).</param>
public sealed record RecoverOptions(bool StartStopped = false);

/// <summary>Options of <see cref="IInstanceDriver.ListAsync"/>.</summary>
public sealed record ListOptions;

/// <summary>Options of <see cref="IInstanceDriver.OpenConsoleAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="Columns">Terminal width.</param>
/// <param name="Rows">Terminal height.</param>
public sealed record ConsoleOptions(string Id, int Columns = 80, int Rows = 24);

/// <summary>Options of <see cref="IInstanceDriver.ExportDisksAsync"/>.</summary>
/// <param name="Id">The instance.</param>
/// <param name="Folder">An empty folder on the state folder's filesystem that receives the disk files.</param>
public sealed record ExportDisksOptions(string Id, string Folder);

/// <summary>What <see cref="IInstanceDriver.ExportDisksAsync"/> wrote.</summary>
/// <param name="Spec">The instance's spec (without the clear password).</param>
/// <param name="ImageSha256">The build of the image the disks belong to (the image manifest's sha256), or empty when the disks need no image.</param>
/// <param name="Files">The disk files written into the folder (plain names).</param>
/// <param name="Consistency">How the copy was made consistent, e.g. <c>frozen</c> or <c>stopped</c>, with a word on how.</param>
public sealed record DiskExport(InstanceSpec Spec, string ImageSha256, IReadOnlyList<string> Files, string Consistency);

/// <summary>Options of <see cref="IInstanceDriver.ImportDisksAsync"/>.</summary>
/// <param name="Folder">The folder holding the exported disk files (they are moved out of it).</param>
/// <param name="Files">The disk files, as <see cref="DiskExport.Files"/> named them.</param>
/// <param name="Spec">
/// For a new instance: its spec (id, address, MAC, limits; the disk may be larger than the exported one, never smaller).
/// When replacing: only <see cref="InstanceSpec.Id"/> counts; the instance keeps its own spec.
/// </param>
/// <param name="ImageSha256">The image build the disks were exported from (<see cref="DiskExport.ImageSha256"/>).</param>
/// <param name="Replace">Replace the disks of the existing instance <c>Spec.Id</c> (it is killed first when it runs: its disk is replaced).</param>
/// <param name="KeepGuestAccess">A new instance keeps the root password and SSH keys inside the disks instead of <c>Spec.Access</c>.</param>
/// <param name="Start">Start the instance afterwards (a replaced instance that was running is always started again).</param>
public sealed record ImportDisksOptions(string Folder, IReadOnlyList<string> Files, InstanceSpec Spec, string ImageSha256, bool Replace, bool KeepGuestAccess = false, bool Start = true);

/// <summary>Options of <see cref="IInstanceDriver.CloneAsync"/>.</summary>
/// <param name="SourceId">The instance whose snapshot is cloned.</param>
/// <param name="Snapshot">The snapshot's name.</param>
/// <param name="Spec">The new instance (its own id, address, MAC, hostname, limits and access); the image is the source's.</param>
public sealed record CloneOptions(string SourceId, string Snapshot, InstanceSpec Spec);
