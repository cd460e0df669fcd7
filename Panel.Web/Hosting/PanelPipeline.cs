using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Panel.Core.Domain.Accounts;
using Panel.Web.Components;
using Panel.Web.Components.Account;
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
        app.UseAuthentication();
        app.UseAuthorization();
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
        app.MapAccountEndpoints();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }

    private sealed class AdminDashboardAuthorizationFilter : IDashboardAuthorizationFilter
    {
        public bool Authorize(DashboardContext context)
            => context.GetHttpContext().User.IsInRole(Roles.Admin);
    }
}
