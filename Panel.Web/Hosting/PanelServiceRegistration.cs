using Hangfire;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Identity;
using MudBlazor.Services;
using Panel.Core;
using Panel.Core.Domain.Accounts;
using Panel.Core.Persistence;
using Panel.Web.Api;
using Panel.Web.Components.Account;
using Panel.Web.Consoles;
using Panel.Web.Health;

namespace Panel.Web.Hosting;

/// <summary>Everything the web host registers. Program.cs stays a page long.</summary>
public static class PanelServiceRegistration
{
    /// <summary>The authorization policy that guards <c>/admin/...</c>.</summary>
    public const string AdminPolicy = "admin";

    /// <summary>Where the panel listens when neither <c>ASPNETCORE_URLS</c> nor <c>--urls</c> says otherwise.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>Adds the panel's services. Returns false (after printing one line) when the configuration cannot work.</summary>
    public static bool AddPanel(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var connectionString = StartupChecks.ConnectionString(builder.Configuration);
        if (connectionString is null)
        {
            return false;
        }

        // Loopback by default: a hosting company puts the panel behind its own TLS proxy.
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        // Serve MudBlazor's and our assets straight from a build (not a publish) in any environment: tests run it so.
        if (builder.Configuration.GetValue<bool>("Panel:StaticWebAssetsFromBuild"))
        {
            builder.WebHost.UseStaticWebAssets();
        }

        var options = builder.Configuration.GetSection(PanelOptions.Section).Get<PanelOptions>() ?? new PanelOptions();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(new PanelConnection(connectionString));
        if (options.Edge.Enabled)
        {
            // The hosting edge: its own Kestrel listeners beside the panel's (Panel:Edge).
            builder.Services.AddSingleton<Panel.Web.Edge.EdgeServer>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<Panel.Web.Edge.EdgeServer>());
            // The SFTP gateway: a port per hosting space, forwarded to its container's sshd (Panel:Edge:SftpAddress).
            builder.Services.AddSingleton<Panel.Web.Edge.SftpGateway>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<Panel.Web.Edge.SftpGateway>());
        }

        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        // The web console's hub (its own SignalR connection beside the circuits) and its open sessions.
        builder.Services.AddSignalR();
        builder.Services.AddSingleton<ConsoleSessions>();
        // Snackbars bottom-right: the top-right corner holds a page's action buttons.
        builder.Services.AddMudServices(c => c.SnackbarConfiguration.PositionClass = MudBlazor.Defaults.Classes.Position.BottomRight);

        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<AuthenticationStateProvider, IdentityRevalidatingAuthenticationStateProvider>();
        builder.Services.AddScoped<IdentityRedirectManager>();
        builder.Services.AddScoped<CurrentActor>();
        builder.Services.AddHttpContextAccessor();

        builder.Services.AddAuthentication(o =>
            {
                o.DefaultScheme = IdentityConstants.ApplicationScheme;
                o.DefaultSignInScheme = IdentityConstants.ExternalScheme;
            })
            .AddIdentityCookies();
        builder.Services.ConfigureApplicationCookie(o =>
        {
            o.LoginPath = "/account/login";
            o.LogoutPath = "/account/logout";
            o.AccessDeniedPath = "/error/403";
            o.Cookie.Name = "panel.auth";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.SlidingExpiration = true;
            o.ExpireTimeSpan = TimeSpan.FromHours(12);
            // A hub (no page to show) answers an anonymous caller with 401, not a redirect to the sign-in page.
            o.Events.OnRedirectToLogin = ctx =>
            {
                if (ctx.Request.Path.StartsWithSegments("/hubs", StringComparison.Ordinal))
                {
                    // A plain 401: the error page (status code pages re-execute) is for browsers on pages.
                    ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    if (ctx.HttpContext.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } pages)
                    {
                        pages.Enabled = false;
                    }
                }
                else
                {
                    ctx.Response.Redirect(ctx.RedirectUri);
                }

                return Task.CompletedTask;
            };
            // A signed-in user without the right role gets a plain 403 (rendered by the error page), not a redirect.
            o.Events.OnRedirectToAccessDenied = ctx =>
            {
                ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
                return Task.CompletedTask;
            };
        });
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicy, p => p.RequireAuthenticatedUser().RequireRole(Roles.Admin))
            .SetFallbackPolicy(null);

        builder.Services.AddPanelCore(connectionString, options)
            .AddSignInManager()
            .AddDefaultTokenProviders();

        // The public API: bearer tokens, scope policies, a rate limit per token, the OpenAPI document.
        builder.AddPanelApi();

        builder.Services.AddDataProtection()
            .SetApplicationName("VpsPanel")
            .PersistKeysToDbContext<PanelDbContext>();

        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"], timeout: TimeSpan.FromSeconds(5))
            .AddCheck<JobStorageHealthCheck>("jobs", tags: ["ready"], timeout: TimeSpan.FromSeconds(5));

        builder.Services.Configure<ForwardedHeadersOptions>(o =>
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto);
        return true;
    }
}

/// <summary>The panel's connection string, as configured.</summary>
/// <param name="ConnectionString">An Npgsql connection string.</param>
public sealed record PanelConnection(string ConnectionString);
