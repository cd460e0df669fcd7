namespace Panel.Web.Hosting;

/// <summary>Light/dark theme as a cookie: a plain link flips it, so it works on static and interactive pages alike.</summary>
public static class ThemeEndpoint
{
    /// <summary>The cookie that holds <c>dark</c> or <c>light</c>.</summary>
    public const string CookieName = "panel.theme";

    /// <summary>Maps <c>GET /theme?mode=dark|light&amp;returnUrl=/path</c>.</summary>
    public static void MapThemeEndpoint(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/theme", (HttpContext http, string? mode, string? returnUrl) =>
        {
            var dark = string.Equals(mode, "dark", StringComparison.OrdinalIgnoreCase);
            http.Response.Cookies.Append(CookieName, dark ? "dark" : "light", new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Lax,
                MaxAge = TimeSpan.FromDays(365),
                IsEssential = true,
            });
            return Results.LocalRedirect(IsLocal(returnUrl) ? returnUrl! : "/");
        });
    }

    /// <summary>The link that flips the theme and comes back to the current page.</summary>
    public static string ToggleUrl(bool darkNow, Microsoft.AspNetCore.Components.NavigationManager navigation)
    {
        ArgumentNullException.ThrowIfNull(navigation);
        return $"/theme?mode={(darkNow ? "light" : "dark")}&returnUrl={Uri.EscapeDataString("/" + navigation.ToBaseRelativePath(navigation.Uri))}";
    }

    /// <summary>Whether the request asked for the dark theme.</summary>
    public static bool IsDark(HttpContext? http) => http?.Request.Cookies[CookieName] == "dark";

    private static bool IsLocal(string? url)
        => !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal);
}
