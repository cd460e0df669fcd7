using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.OpenApi;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Api;
using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Api;

/// <summary>
/// The public API, <c>/api/v1</c>: its authentication scheme, scope policies, per-token rate limit,
/// OpenAPI document, and the route groups of the areas (<see cref="ServersApi"/>, <see cref="BillingApi"/>,
/// <see cref="ProvisioningApi"/>). Handlers call the same services as the pages, with the token's
/// <see cref="Actor"/>; those services check ownership and roles.
/// </summary>
public static class PanelApi
{
    /// <summary>The API's path prefix.</summary>
    public const string Prefix = "/api/v1";

    /// <summary>Where the OpenAPI document is served.</summary>
    public const string OpenApiPath = Prefix + "/openapi.json";

    /// <summary>The rate limiter's policy.</summary>
    public const string RateLimitPolicy = "api";

    private const string BearerScheme = "bearer";

    /// <summary>Whether a request is for the API (its errors are problem+json, never the error page).</summary>
    public static bool IsApi(HttpContext context) => context?.Request.Path.StartsWithSegments(Prefix, StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The authorization policy of a scope.</summary>
    public static string PolicyFor(string scope) => "api:" + scope;

    /// <summary>Registers the API's services.</summary>
    public static void AddPanelApi(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.Services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, ApiTokenAuthenticationHandler>(ApiTokenAuthenticationHandler.SchemeName, null);
        var authorization = builder.Services.AddAuthorizationBuilder();
        foreach (var scope in ApiScopes.All)
        {
            authorization.AddPolicy(PolicyFor(scope), p =>
            {
                p.AddAuthenticationSchemes(ApiTokenAuthenticationHandler.SchemeName).RequireAuthenticatedUser().RequireClaim(ApiTokenAuthenticationHandler.ScopeClaim, scope);
                if (ApiScopes.AdminOnly.Contains(scope))
                {
                    p.RequireRole(Roles.Admin);
                }
            });
        }

        var perMinute = builder.Configuration.GetValue("Panel:Api:RequestsPerMinute", 300);
        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            // Per token (the authorization middleware has put the token's principal on the request).
            o.AddPolicy(RateLimitPolicy, http => RateLimitPartition.GetFixedWindowLimiter(
                http.User.FindFirstValue(ApiTokenAuthenticationHandler.TokenClaim) ?? "ip:" + http.Connection.RemoteIpAddress,
                _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
            o.OnRejected = (context, _) =>
            {
                var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)) : 60;
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return new ValueTask(ApiProblems.WriteAsync(context.HttpContext, StatusCodes.Status429TooManyRequests,
                    $"Too many requests with this token (at most {perMinute} a minute); try again in {seconds} s."));
            };
        });

        builder.Services.AddOpenApi("v1", o =>
        {
            o.ShouldInclude = d => d.RelativePath?.StartsWith(Prefix[1..] + "/", StringComparison.Ordinal) == true;
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "VpsPanel API",
                    Version = "v1",
                    Description = "Servers, snapshots, backups, invoices and balance for customers; a provisioning module keyed by an external service id for admins and billing systems. "
                                  + "Authenticate with 'Authorization: Bearer vpsp_…' (Account → API tokens). Every POST and DELETE needs an Idempotency-Key header (a key replays its first answer for 7 days). Errors are application/problem+json.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = BearerScheme,
                    BearerFormat = "vpsp_ token",
                    Description = "An API token made on Account → API tokens.",
                };
                document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }];
                return Task.CompletedTask;
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                if (context.Description.ActionDescriptor.EndpointMetadata.OfType<RequiredScope>().FirstOrDefault() is { } scope)
                {
                    operation.Description = $"Needs the scope `{scope.Scope}`{(scope.AdminOnly ? " on an admin token" : "")}.";
                }

                if (!string.Equals(context.Description.HttpMethod, "GET", StringComparison.OrdinalIgnoreCase))
                {
                    operation.Parameters ??= [];
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = IdempotencyFilter.Header,
                        In = ParameterLocation.Header,
                        Required = true,
                        Description = "A unique key per operation (1-200 printable characters): a retry with the same key replays the first answer.",
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 200 },
                    });
                }

                operation.Responses ??= [];
                operation.Responses.TryAdd("401", new OpenApiResponse { Description = "No token, or an unknown, expired or revoked one." });
                operation.Responses.TryAdd("403", new OpenApiResponse { Description = "The token lacks the scope or role." });
                operation.Responses.TryAdd("429", new OpenApiResponse { Description = "Too many requests with this token; see Retry-After." });
                return Task.CompletedTask;
            });
        });
    }

    /// <summary>Maps <c>/api/v1</c> and its OpenAPI document.</summary>
    public static IEndpointRouteBuilder MapPanelApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup(Prefix)
            .RequireRateLimiting(RateLimitPolicy)
            // Outermost first: the idempotency filter keeps the answer the error filter makes of a refusal.
            .AddEndpointFilter<IdempotencyFilter>()
            .AddEndpointFilter<ApiErrorFilter>();
        api.MapServersApi();
        api.MapBillingApi();
        api.MapProvisioningApi();
        app.MapOpenApi(OpenApiPath);
        return app;
    }

    /// <summary>Requires a token with <paramref name="scope"/> (and the admin role for admin-only scopes).</summary>
    internal static RouteHandlerBuilder RequireScope(this RouteHandlerBuilder builder, string scope)
        => builder.RequireAuthorization(PolicyFor(scope)).WithMetadata(new RequiredScope(scope, ApiScopes.AdminOnly.Contains(scope)));

    /// <summary>The actor a token acts as.</summary>
    internal static Actor Actor(this HttpContext http) => CurrentActor.From(http.User, http.Connection.RemoteIpAddress?.ToString());
}
