namespace Panel.Web.Api;

/// <summary>An order for a server.</summary>
/// <param name="PlanId">The plan.</param>
/// <param name="ImageId">The image.</param>
/// <param name="Hostname">Host name (unique among your servers).</param>
/// <param name="RootPassword">Root password (8-256 printable characters), or null.</param>
/// <param name="SshKeys">OpenSSH public keys for root.</param>
public sealed record CreateServerRequest(int PlanId, int ImageId, string Hostname, string? RootPassword = null, IReadOnlyList<string>? SshKeys = null);

/// <summary>An accepted order.</summary>
/// <param name="ServerId">The new server.</param>
/// <param name="OperationId">The operation provisioning it (<c>GET /api/v1/operations/{id}</c>).</param>
public sealed record ServerAccepted(int ServerId, long OperationId);

/// <summary>An accepted operation; it runs in the background.</summary>
/// <param name="OperationId">Its id (<c>GET /api/v1/operations/{id}</c>).</param>
public sealed record OperationAccepted(long OperationId);

/// <summary>A snapshot to take.</summary>
/// <param name="Name">Its name.</param>
public sealed record CreateSnapshotRequest(string Name);

/// <summary>A service an external billing system orders for one of the panel's customers.</summary>
/// <param name="ServiceId">The billing system's id for the service (unique for good; 1-100 of A-Z a-z 0-9 . _ : -).</param>
/// <param name="CustomerId">The customer (a panel user id).</param>
/// <param name="PlanId">The plan.</param>
/// <param name="ImageId">The image.</param>
/// <param name="Hostname">Host name.</param>
/// <param name="RootPassword">Root password, or null.</param>
/// <param name="SshKeys">OpenSSH public keys for root.</param>
public sealed record CreateServiceRequest(string ServiceId, Guid CustomerId, int PlanId, int ImageId, string Hostname, string? RootPassword = null, IReadOnlyList<string>? SshKeys = null);

/// <summary>An accepted service order.</summary>
/// <param name="ServiceId">The billing system's id.</param>
/// <param name="ServerId">The panel's server.</param>
/// <param name="OperationId">The operation provisioning it.</param>
public sealed record ServiceAccepted(string ServiceId, int ServerId, long OperationId);

/// <summary>A suspension.</summary>
/// <param name="Reason">Why (shown to the customer).</param>
public sealed record SuspendServiceRequest(string? Reason);

/// <summary>A plan change.</summary>
/// <param name="PlanId">The new plan (same approach; the disk only grows).</param>
public sealed record ChangePlanRequest(int PlanId);
