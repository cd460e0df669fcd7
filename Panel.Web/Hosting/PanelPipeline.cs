using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Panel.Core.Domain.Accounts;
using Panel.Web.Components;
using Panel.Web.Components.Account;
using Panel.Web.Api;
using Panel.Web.Consoles;
using Panel.Web.Downloads;
using Panel.Web.Health;

namespace Panel.Web.Hosting;

/// <summary>The HTTP pipeline and endpoints.</summary>
public static class PanelPipeline
{
    /// <summary>The Hangfire dashboard's path.</summary>
    public const string JobsDashboardPath = "/admin/jobs";

    /// <summary>Configures middleware and maps every endpoint.</summary>
    public static WebApplication UsePanel(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseForwardedHeaders();
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/error", createScopeForErrors: true);
        }

        app.UseStatusCodePagesWithReExecute("/error/{0}", createScopeForStatusCodePages: true);
        // The API answers every error as problem+json, never with the pages' error page, and buffers
        // its bodies (the idempotency filter hashes them). (Not a UseWhen around the pages' handlers:
        // a branch has no routing of its own, so their re-execution would find no page.)
        app.UseWhen(PanelApi.IsApi, api =>
        {
            api.Use((context, next) =>
            {
                if (context.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } pages)
                {
                    pages.Enabled = false;
                }

                context.Request.EnableBuffering();
                return next(context);
            });
            api.UseExceptionHandler();
            api.UseStatusCodePages();
        });
        app.UseAuthentication();
        app.UseAuthorization();
        // After authorization: the API's limiter partitions by the token it authenticated.
        app.UseRateLimiter();
        app.UseAntiforgery();

        app.MapStaticAssets();
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthResponse.WriteAsync });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = HealthResponse.WriteAsync });

        app.MapHangfireDashboard(JobsDashboardPath, new DashboardOptions
            {
                DashboardTitle = "VpsPanel jobs",
                AppPath = "/admin",
                // Endpoint authorization below does the real check; this filter is defence in depth.
                Authorization = [new AdminDashboardAuthorizationFilter()],
                DisplayStorageConnectionString = false,
            })
            .RequireAuthorization(PanelServiceRegistration.AdminPolicy);

        app.MapThemeEndpoint();
        app.MapBillingEndpoints();
        app.MapAccountEndpoints();
        app.MapHub<ConsoleHub>(ConsoleHub.Path);
        app.MapBackupDownloads();
        app.MapPanelApi();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }

    private sealed class AdminDashboardAuthorizationFilter : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context)
            => context.GetHttpContext().User.IsInRole(Roles.Admin);
    }
}
