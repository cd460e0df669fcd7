using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Panel.Core.Services;

namespace Panel.Web.Api;

/// <summary>
/// Authenticates <c>Authorization: Bearer vpsp_…</c> against <see cref="ApiTokenService"/>: the principal
/// carries the owner's id and email, the roles the token acts with and one <c>scope</c> claim per scope.
/// Only API endpoints use this scheme (cookies never authenticate an API call). A missing, unknown,
/// expired or revoked token is challenged with 401 problem+json; a token without the scope or role an
/// endpoint needs gets 403.
/// </summary>
public sealed class ApiTokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiTokenService tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme's name.</summary>
    public const string SchemeName = "ApiToken";

    /// <summary>The claim holding a scope.</summary>
    public const string ScopeClaim = "scope";

    /// <summary>The claim holding the token's id (the rate limiter's and idempotency's partition).</summary>
    public const string TokenClaim = "api_token";

    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail("Send the token as 'Authorization: Bearer vpsp_…'.");
        }

        var identity = await tokens.AuthenticateAsync(header["Bearer ".Length..].Trim(), Context.Connection.RemoteIpAddress?.ToString(), Context.RequestAborted);
        if (identity is null)
        {
            return AuthenticateResult.Fail("The token is unknown, expired or revoked.");
        }

        List<Claim> claims =
        [
            new(ClaimTypes.NameIdentifier, identity.UserId.ToString()),
            new(ClaimTypes.Name, identity.UserName),
            new(TokenClaim, identity.TokenId.ToString()),
            .. identity.Roles.Select(r => new Claim(ClaimTypes.Role, r)),
            .. identity.Scopes.Select(s => new Claim(ScopeClaim, s)),
        ];
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    /// <inheritdoc />
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        Response.Headers.WWWAuthenticate = "Bearer";
        await ApiProblems.WriteAsync(Context, StatusCodes.Status401Unauthorized,
            result.Failure?.Message ?? "Send an API token: 'Authorization: Bearer vpsp_…' (make one on Account → API tokens).");
    }

    /// <inheritdoc />
    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var scope = Context.GetEndpoint()?.Metadata.GetMetadata<RequiredScope>();
        var detail = scope is null ? "This token may not do this."
            : scope.AdminOnly ? $"This needs an admin token with the scope {scope.Scope}."
            : $"This needs a token with the scope {scope.Scope}.";
        return ApiProblems.WriteAsync(Context, StatusCodes.Status403Forbidden, detail);
    }
}

/// <summary>Endpoint metadata: the scope (and whether the admin role) an API endpoint needs.</summary>
/// <param name="Scope">The scope.</param>
/// <param name="AdminOnly">Whether the token must also act as an admin.</param>
public sealed record RequiredScope(string Scope, bool AdminOnly);
