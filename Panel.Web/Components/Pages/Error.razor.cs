using System.Diagnostics;
using Microsoft.AspNetCore.Components;

namespace Panel.Web.Components.Pages;

/// <summary>The page for errors and status codes: a readable reason, never a stack trace.</summary>
public sealed partial class Error
{
    /// <summary>The HTTP status code being explained (none for an unhandled exception).</summary>
    [Parameter]
    public int? Code { get; set; }

    [CascadingParameter]
    private HttpContext? HttpContext { get; set; }

    private string? RequestId => Activity.Current?.Id ?? HttpContext?.TraceIdentifier;

    private bool ShowRequestId => Code is null or >= 500;

    private string Title => Code switch
    {
        403 => "Access denied",
        404 => "Page not found",
        null or >= 500 => "Something went wrong",
        _ => $"Error {Code}",
    };

    private string Message => Code switch
    {
        403 => "Your account cannot open this page. Admin pages are for the hosting company's staff.",
        404 => "There is nothing at this address. It may have moved, or the link is mistyped.",
        null or >= 500 => "The panel could not finish this request. Nothing was changed; try again in a moment.",
        _ => "The request could not be served.",
    };

    /// <inheritdoc />
    protected override void OnInitialized()
    {
        // A re-executed status page keeps the original status; a direct visit to /error/N answers N.
        if (HttpContext is { Response.HasStarted: false } http && Code is { } code && http.Response.StatusCode == StatusCodes.Status200OK)
        {
            http.Response.StatusCode = code;
        }
    }
}
