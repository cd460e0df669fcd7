using Microsoft.AspNetCore.Components;

namespace Panel.Web.Components.Account;

/// <summary>Redirects from static account pages, refusing open redirects, with an optional one-shot status message.</summary>
internal sealed class IdentityRedirectManager(NavigationManager navigation)
{
    public const string StatusCookieName = "panel.status";

    private static readonly CookieBuilder StatusCookie = new()
    {
        SameSite = SameSiteMode.Strict,
        HttpOnly = true,
        IsEssential = true,
        MaxAge = TimeSpan.FromSeconds(5),
    };

    /// <summary>Navigates to a local URL; anything else (another host, a protocol-relative URL) goes to the home page.</summary>
    public void RedirectTo(string? uri) => navigation.NavigateTo(LocalPath(uri, navigation.BaseUri));

    /// <summary>The local path to go to for <paramref name="uri"/>: itself when local, "/" otherwise.</summary>
    internal static string LocalPath(string? uri, string baseUri)
    {
        if (string.IsNullOrWhiteSpace(uri))
        {
            return "/";
        }

        if (Uri.TryCreate(uri, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https")
        {
            // Our own absolute URLs (built with query parameters) are fine; any other host is not.
            return uri.StartsWith(baseUri, StringComparison.OrdinalIgnoreCase) ? "/" + uri[baseUri.Length..] : "/";
        }

        if (uri.StartsWith("//", StringComparison.Ordinal) || uri.StartsWith("/\\", StringComparison.Ordinal))
        {
            return "/";
        }

        if (uri.StartsWith('/'))
        {
            return uri;
        }

        // "account/login" is local; "javascript:..." or "mailto:..." is not.
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var pathEnd = uri.IndexOfAny(['/', '?', '#']);
        return colon >= 0 && (pathEnd < 0 || colon < pathEnd) ? "/" : "/" + uri;
    }

    /// <summary>Navigates to a local URL with query parameters.</summary>
    public void RedirectTo(string uri, Dictionary<string, object?> query)
    {
        var path = navigation.ToAbsoluteUri(uri).GetLeftPart(UriPartial.Path);
        RedirectTo(navigation.GetUriWithQueryParameters(path, query));
    }

    /// <summary>Navigates and shows <paramref name="message"/> once on the next page.</summary>
    public void RedirectToWithStatus(string uri, string message, HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.Cookies.Append(StatusCookieName, message, StatusCookie.Build(context));
        RedirectTo(uri);
    }

    /// <summary>Reloads the current page with a one-shot message.</summary>
    public void RedirectToCurrentPageWithStatus(string message, HttpContext context)
        => RedirectToWithStatus(navigation.ToAbsoluteUri(navigation.Uri).GetLeftPart(UriPartial.Path), message, context);
}
