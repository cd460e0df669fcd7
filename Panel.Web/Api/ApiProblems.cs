using Microsoft.AspNetCore.Http.HttpResults;
using Panel.Core.Services;

namespace Panel.Web.Api;

/// <summary>
/// Every API error is problem+json (RFC 9457). Refusals from the services map to statuses: a
/// <see cref="PanelRefusedException"/> naming an input is 400 (bad input), one that does not is 409
/// (the state forbids it: busy, already running, the service id exists); <see cref="PanelNotFoundException"/>
/// is 404 (also for another customer's ids, so they leak nothing); <see cref="UnauthorizedAccessException"/> is 403.
/// </summary>
public static class ApiProblems
{
    /// <summary>Writes a problem answer directly (authentication, rate limiting).</summary>
    public static Task WriteAsync(HttpContext context, int status, string detail)
    {
        ArgumentNullException.ThrowIfNull(context);
        return TypedResults.Problem(detail, statusCode: status).ExecuteAsync(context);
    }

    /// <summary>The answer for an exception a handler threw, or null for one that is a bug (answered 500 by the caller).</summary>
    public static ProblemHttpResult? FromException(Exception exception) => exception switch
    {
        PanelRefusedException { Field: { } field } e => TypedResults.Problem(e.Message, statusCode: StatusCodes.Status400BadRequest,
            extensions: new Dictionary<string, object?> { ["field"] = field }),
        PanelRefusedException e => TypedResults.Problem(e.Message, statusCode: StatusCodes.Status409Conflict),
        PanelNotFoundException e => TypedResults.Problem(e.Message, statusCode: StatusCodes.Status404NotFound),
        UnauthorizedAccessException e => TypedResults.Problem(e.Message, statusCode: StatusCodes.Status403Forbidden),
        BadHttpRequestException e => TypedResults.Problem(e.Message, statusCode: e.StatusCode),
        _ => null,
    };

    /// <summary>The 500 answer: no details of the bug reach the client.</summary>
    public static ProblemHttpResult Unexpected() => TypedResults.Problem("The panel failed to answer; the error is logged. Try again later.", statusCode: StatusCodes.Status500InternalServerError);

    /// <summary>A 400 answer for a bad value the API itself checks.</summary>
    public static ProblemHttpResult BadRequest(string detail, string? field = null) => TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest,
        extensions: field is null ? null : new Dictionary<string, object?> { ["field"] = field });
}

/// <summary>Turns the services' refusals into problem answers on every API endpoint.</summary>
public sealed class ApiErrorFilter(ILogger<ApiErrorFilter> logger) : IEndpointFilter
{
    /// <inheritdoc />
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            return await next(context);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            if (ApiProblems.FromException(ex) is { } problem)
            {
                return problem;
            }

            logger.LogError(ex, "API call {Method} {Path} failed", context.HttpContext.Request.Method, context.HttpContext.Request.Path);
            return ApiProblems.Unexpected();
        }
    }
}
