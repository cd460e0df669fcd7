using Microsoft.AspNetCore.Http.HttpResults;
using Panel.Core.Domain.Api;
using Panel.Core.Services;

namespace Panel.Web.Api;

/// <summary>
/// The provisioning module for admins and external billing systems (an admin token with the
/// <c>provisioning</c> scope): services keyed by the billing system's own id (a VPS's
/// <c>external_service_id</c>, unique across the installation, so no customer is needed to find one).
/// </summary>
public static class ProvisioningApi
{
    /// <summary>Maps <c>/provisioning/services</c>.</summary>
    public static IEndpointRouteBuilder MapProvisioningApi(this IEndpointRouteBuilder app)
    {
        var services = app.MapGroup("/provisioning/services").WithTags("Provisioning");
        services.MapPost("", CreateService).RequireScope(ApiScopes.Provisioning).WithName(nameof(CreateService)).WithSummary("Create a server for a customer under a service id")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status409Conflict);
        services.MapGet("/{serviceId}", GetService).RequireScope(ApiScopes.Provisioning).WithName(nameof(GetService)).WithSummary("The server of a service")
            .ProducesProblem(StatusCodes.Status404NotFound);
        services.MapPost("/{serviceId}/suspend", SuspendService).RequireScope(ApiScopes.Provisioning).WithName(nameof(SuspendService)).WithSummary("Stop the server and lock it against its owner")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        services.MapPost("/{serviceId}/unsuspend", UnsuspendService).RequireScope(ApiScopes.Provisioning).WithName(nameof(UnsuspendService)).WithSummary("Lift a suspension and start the server")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        services.MapPost("/{serviceId}/terminate", TerminateService).RequireScope(ApiScopes.Provisioning).WithName(nameof(TerminateService)).WithSummary("Delete the server and free its resources")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        services.MapPost("/{serviceId}/change-plan", ChangePlan).RequireScope(ApiScopes.Provisioning).WithName(nameof(ChangePlan)).WithSummary("Move the server to another plan")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        services.MapGet("/{serviceId}/usage", GetUsage).RequireScope(ApiScopes.Provisioning).WithName(nameof(GetUsage)).WithSummary("Hours and traffic metered in the current billing period")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>Creates a server for a customer; 201 with the service, server and operation.</summary>
    public static async Task<Created<ServiceAccepted>> CreateService(CreateServiceRequest request, HttpContext http, VpsService vpses)
    {
        ArgumentNullException.ThrowIfNull(request);
        var serviceId = VpsService.CheckServiceId(request.ServiceId);
        var accepted = await vpses.CreateAsync(http.Actor(),
            new CreateVpsRequest(request.PlanId, request.ImageId, request.Hostname, request.RootPassword, request.SshKeys ?? [], request.CustomerId, serviceId));
        return TypedResults.Created($"{PanelApi.Prefix}/provisioning/services/{Uri.EscapeDataString(serviceId)}", new ServiceAccepted(serviceId, accepted.VpsId, accepted.OperationId));
    }

    /// <summary>The server of a service (terminated ones too).</summary>
    public static async Task<Ok<VpsView>> GetService(string serviceId, HttpContext http, VpsService vpses, CancellationToken cancellationToken)
        => TypedResults.Ok(await vpses.GetByServiceIdAsync(http.Actor(), serviceId, cancellationToken));

    /// <summary>Suspends the service's server.</summary>
    public static async Task<Accepted<OperationAccepted>> SuspendService(string serviceId, SuspendServiceRequest? request, HttpContext http, VpsService vpses)
    {
        var actor = http.Actor();
        var vps = await vpses.GetByServiceIdAsync(actor, serviceId);
        return ServersApi.Operation(await vpses.SuspendAsync(actor, vps.Id, request?.Reason ?? "suspended by the billing system"));
    }

    /// <summary>Unsuspends the service's server.</summary>
    public static async Task<Accepted<OperationAccepted>> UnsuspendService(string serviceId, HttpContext http, VpsService vpses)
    {
        var actor = http.Actor();
        var vps = await vpses.GetByServiceIdAsync(actor, serviceId);
        return ServersApi.Operation(await vpses.UnsuspendAsync(actor, vps.Id));
    }

    /// <summary>Deletes the service's server (its backups go with it; its addresses return to the pool).</summary>
    public static async Task<Accepted<OperationAccepted>> TerminateService(string serviceId, HttpContext http, VpsService vpses)
    {
        var actor = http.Actor();
        var vps = await vpses.GetByServiceIdAsync(actor, serviceId);
        return ServersApi.Operation(await vpses.DeleteAsync(actor, vps.Id));
    }

    /// <summary>Changes the service's plan.</summary>
    public static async Task<Accepted<OperationAccepted>> ChangePlan(string serviceId, ChangePlanRequest request, HttpContext http, VpsService vpses)
    {
        ArgumentNullException.ThrowIfNull(request);
        var actor = http.Actor();
        var vps = await vpses.GetByServiceIdAsync(actor, serviceId);
        return ServersApi.Operation(await vpses.ResizeAsync(actor, vps.Id, request.PlanId));
    }

    /// <summary>The service's usage in its owner's current billing period.</summary>
    public static async Task<Ok<VpsPeriodUsageView>> GetUsage(string serviceId, HttpContext http, VpsService vpses, UsageMeter meter, CancellationToken cancellationToken)
    {
        var actor = http.Actor();
        var vps = await vpses.GetByServiceIdAsync(actor, serviceId, cancellationToken);
        return TypedResults.Ok(await meter.UsageAsync(actor, vps.Id, cancellationToken));
    }
}
