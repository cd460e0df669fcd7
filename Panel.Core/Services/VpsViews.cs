using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Services;

/// <summary>An order for a new VPS.</summary>
/// <param name="PlanId">The plan.</param>
/// <param name="ImageId">The image to install.</param>
/// <param name="Hostname">The host name (unique among the owner's VPSes).</param>
/// <param name="RootPassword">A root password (8-256 printable characters), or null.</param>
/// <param name="SshKeys">OpenSSH public keys for root.</param>
/// <param name="OwnerId">For admins: the customer to create it for (default: the caller).</param>
/// <param name="ExternalServiceId">For admins: an external billing system's id for it (unique for good; 1-100 of <c>A-Z a-z 0-9 . _ : -</c>).</param>
public sealed record CreateVpsRequest(int PlanId, int ImageId, string Hostname, string? RootPassword, IReadOnlyList<string> SshKeys, Guid? OwnerId = null, string? ExternalServiceId = null);

/// <summary>An accepted request: the VPS and the operation to watch.</summary>
/// <param name="VpsId">The VPS.</param>
/// <param name="OperationId">The operation doing the work.</param>
public sealed record VpsAccepted(int VpsId, long OperationId);

/// <summary>A VPS as its owner (or an admin) sees it.</summary>
/// <param name="Id">VPS id.</param>
/// <param name="Hostname">Host name.</param>
/// <param name="Status">Lifecycle status.</param>
/// <param name="StatusReason">Why it is in Error or Suspended.</param>
/// <param name="PlanName">Plan.</param>
/// <param name="Approach">Virtualization approach.</param>
/// <param name="ImageName">Installed image (display name).</param>
/// <param name="NodeName">Node it runs on.</param>
/// <param name="Addresses">IP addresses.</param>
/// <param name="Vcpus">vCPUs.</param>
/// <param name="MemoryBytes">Memory.</param>
/// <param name="DiskBytes">Disk.</param>
/// <param name="BusyOperationId">The running operation, if any.</param>
/// <param name="OwnerId">Owner.</param>
/// <param name="CreatedAt">Created (UTC).</param>
/// <param name="ExternalServiceId">An external billing system's id for it, if it has one.</param>
/// <param name="PortSpeedMbit">The port speed in force (the throttle speed while throttled), or null for no cap.</param>
/// <param name="ThrottledUntil">While throttled (traffic allowance used up): when its billing period ends (UTC).</param>
public sealed record VpsView(
    int Id, string Hostname, VpsStatus Status, string? StatusReason, string PlanName, VirtualizationKind Approach, string ImageName,
    string? NodeName, IReadOnlyList<string> Addresses, int Vcpus, long MemoryBytes, long DiskBytes, long? BusyOperationId, Guid OwnerId, DateTime CreatedAt,
    string? ExternalServiceId = null, int? PortSpeedMbit = null, DateTime? ThrottledUntil = null);

/// <summary>One step of an operation.</summary>
/// <param name="At">When (UTC).</param>
/// <param name="Progress">0-100.</param>
/// <param name="Message">What happened.</param>
/// <param name="IsError">Whether it is a failure.</param>
public sealed record OperationEventView(DateTime At, int Progress, string Message, bool IsError);

/// <summary>An operation of the log.</summary>
/// <param name="Id">Operation id.</param>
/// <param name="VpsId">The VPS.</param>
/// <param name="Kind">What.</param>
/// <param name="Status">Where it is.</param>
/// <param name="Progress">0-100.</param>
/// <param name="Step">Current or last step.</param>
/// <param name="Error">Why it failed or was refused.</param>
/// <param name="ActorName">Who asked.</param>
/// <param name="Attempts">Job starts.</param>
/// <param name="CreatedAt">Asked (UTC).</param>
/// <param name="FinishedAt">Ended (UTC).</param>
/// <param name="Events">Steps.</param>
public sealed record OperationView(
    long Id, int? VpsId, OperationKind Kind, OperationStatus Status, int Progress, string? Step, string? Error, string ActorName, int Attempts,
    DateTime CreatedAt, DateTime? FinishedAt, IReadOnlyList<OperationEventView> Events);
