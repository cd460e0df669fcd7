using Microsoft.AspNetCore.Http.HttpResults;
using Panel.Core.Domain.Api;
using Panel.Core.Services;

namespace Panel.Web.Api;

/// <summary>Customers' servers: list, read, order, power, delete, snapshots, backups, operations.</summary>
/// <remarks>Mutations are accepted (202) and run as operations; they take no request cancellation, so an accepted call always completes.</remarks>
public static class ServersApi
{
    /// <summary>Maps <c>/servers</c> and <c>/operations</c>.</summary>
    public static IEndpointRouteBuilder MapServersApi(this IEndpointRouteBuilder app)
    {
        var servers = app.MapGroup("/servers").WithTags("Servers");
        servers.MapGet("", ListServers).RequireScope(ApiScopes.ServersRead).WithName(nameof(ListServers)).WithSummary("Your servers, newest first");
        servers.MapGet("/{id:int}", GetServer).RequireScope(ApiScopes.ServersRead).WithName(nameof(GetServer)).WithSummary("One server")
            .ProducesProblem(StatusCodes.Status404NotFound);
        servers.MapPost("", CreateServer).RequireScope(ApiScopes.ServersWrite).WithName(nameof(CreateServer)).WithSummary("Order a server")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict);
        servers.MapPost("/{id:int}/start", StartServer).RequireScope(ApiScopes.ServersWrite).WithName(nameof(StartServer)).WithSummary("Power a server on")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        servers.MapPost("/{id:int}/stop", StopServer).RequireScope(ApiScopes.ServersWrite).WithName(nameof(StopServer)).WithSummary("Shut a server down")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        servers.MapPost("/{id:int}/reboot", RebootServer).RequireScope(ApiScopes.ServersWrite).WithName(nameof(RebootServer)).WithSummary("Restart a server")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        servers.MapDelete("/{id:int}", DeleteServer).RequireScope(ApiScopes.ServersWrite).WithName(nameof(DeleteServer)).WithSummary("Delete a server")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        servers.MapGet("/{id:int}/snapshots", ListSnapshots).RequireScope(ApiScopes.ServersRead).WithName(nameof(ListSnapshots)).WithSummary("A server's snapshots")
            .ProducesProblem(StatusCodes.Status404NotFound);
        servers.MapPost("/{id:int}/snapshots", CreateSnapshot).RequireScope(ApiScopes.ServersWrite).WithName(nameof(CreateSnapshot)).WithSummary("Take a snapshot")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        servers.MapPost("/{id:int}/snapshots/{name}/restore", RestoreSnapshot).RequireScope(ApiScopes.ServersWrite).WithName(nameof(RestoreSnapshot)).WithSummary("Put the disk back to a snapshot")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        servers.MapGet("/{id:int}/backups", ListBackups).RequireScope(ApiScopes.ServersRead).WithName(nameof(ListBackups)).WithSummary("A server's backups")
            .ProducesProblem(StatusCodes.Status404NotFound);
        servers.MapPost("/{id:int}/backups", CreateBackup).RequireScope(ApiScopes.ServersWrite).WithName(nameof(CreateBackup)).WithSummary("Take a backup")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        app.MapGet("/operations/{id:long}", GetOperation).WithTags("Servers").RequireScope(ApiScopes.ServersRead).WithName(nameof(GetOperation))
            .WithSummary("An operation and its steps").ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>The caller's servers (an admin token: everyone's).</summary>
    public static async Task<Ok<IReadOnlyList<VpsView>>> ListServers(HttpContext http, VpsService vpses, CancellationToken cancellationToken)
        => TypedResults.Ok(await vpses.ListAsync(http.Actor(), cancellationToken));

    /// <summary>One server.</summary>
    public static async Task<Ok<VpsView>> GetServer(int id, HttpContext http, VpsService vpses, CancellationToken cancellationToken)
        => TypedResults.Ok(await vpses.GetAsync(http.Actor(), id, cancellationToken));

    /// <summary>Orders a server; 201 with the server and its provisioning operation.</summary>
    public static async Task<Created<ServerAccepted>> CreateServer(CreateServerRequest request, HttpContext http, VpsService vpses)
    {
        ArgumentNullException.ThrowIfNull(request);
        var accepted = await vpses.CreateAsync(http.Actor(), new CreateVpsRequest(request.PlanId, request.ImageId, request.Hostname, request.RootPassword, request.SshKeys ?? []));
        return TypedResults.Created($"{PanelApi.Prefix}/servers/{accepted.VpsId}", new ServerAccepted(accepted.VpsId, accepted.OperationId));
    }

    /// <summary>Powers a server on.</summary>
    public static async Task<Accepted<OperationAccepted>> StartServer(int id, HttpContext http, VpsService vpses)
        => Operation(await vpses.StartAsync(http.Actor(), id));

    /// <summary>Shuts a server down.</summary>
    public static async Task<Accepted<OperationAccepted>> StopServer(int id, HttpContext http, VpsService vpses)
        => Operation(await vpses.StopAsync(http.Actor(), id));

    /// <summary>Restarts a server.</summary>
    public static async Task<Accepted<OperationAccepted>> RebootServer(int id, HttpContext http, VpsService vpses)
        => Operation(await vpses.RebootAsync(http.Actor(), id));

    /// <summary>Deletes a server.</summary>
    public static async Task<Accepted<OperationAccepted>> DeleteServer(int id, HttpContext http, VpsService vpses)
        => Operation(await vpses.DeleteAsync(http.Actor(), id));

    /// <summary>A server's snapshots, oldest first.</summary>
    public static async Task<Ok<IReadOnlyList<SnapshotView>>> ListSnapshots(int id, HttpContext http, VpsService vpses, CancellationToken cancellationToken)
        => TypedResults.Ok(await vpses.SnapshotsAsync(http.Actor(), id, cancellationToken));

    /// <summary>Takes a snapshot.</summary>
    public static async Task<Accepted<OperationAccepted>> CreateSnapshot(int id, CreateSnapshotRequest request, HttpContext http, VpsService vpses)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Operation(await vpses.SnapshotAsync(http.Actor(), id, request.Name));
    }

    /// <summary>Restores a snapshot.</summary>
    public static async Task<Accepted<OperationAccepted>> RestoreSnapshot(int id, string name, HttpContext http, VpsService vpses)
        => Operation(await vpses.RestoreSnapshotAsync(http.Actor(), id, name));

    /// <summary>A server's backups, newest first.</summary>
    public static async Task<Ok<IReadOnlyList<BackupView>>> ListBackups(int id, HttpContext http, VpsService vpses, CancellationToken cancellationToken)
        => TypedResults.Ok(await vpses.BackupsAsync(http.Actor(), id, cancellationToken));

    /// <summary>Takes a backup.</summary>
    public static async Task<Accepted<OperationAccepted>> CreateBackup(int id, HttpContext http, VpsService vpses)
        => Operation(await vpses.BackupAsync(http.Actor(), id));

    /// <summary>One operation of the caller's.</summary>
    public static async Task<Ok<OperationView>> GetOperation(long id, HttpContext http, VpsService vpses, CancellationToken cancellationToken)
        => TypedResults.Ok(await vpses.GetOperationAsync(http.Actor(), id, cancellationToken));

    /// <summary>202 pointing at the operation.</summary>
    internal static Accepted<OperationAccepted> Operation(long operationId)
        => TypedResults.Accepted($"{PanelApi.Prefix}/operations/{operationId}", new OperationAccepted(operationId));
}
