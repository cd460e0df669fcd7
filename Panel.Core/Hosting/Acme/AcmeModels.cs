using System.Text.Json.Serialization;

namespace Panel.Core.Hosting.Acme;

/// <summary>An ACME server's directory (RFC 8555 §7.1.1): the URLs of its resources.</summary>
/// <param name="NewNonce">Where fresh nonces come from.</param>
/// <param name="NewAccount">Where accounts are made (or found).</param>
/// <param name="NewOrder">Where orders are placed.</param>
/// <param name="Meta">Terms of service and the like.</param>
public sealed record AcmeDirectory(Uri NewNonce, Uri NewAccount, Uri NewOrder, AcmeDirectoryMeta? Meta);

/// <summary>The directory's <c>meta</c> object.</summary>
/// <param name="TermsOfService">The terms the account agrees to.</param>
public sealed record AcmeDirectoryMeta(string? TermsOfService);

/// <summary>An identifier of an order or authorization (type <c>dns</c>).</summary>
/// <param name="Type">Always "dns" here.</param>
/// <param name="Value">The name.</param>
public sealed record AcmeIdentifier(string Type, string Value);

/// <summary>An RFC 7807 problem document as ACME sends it (RFC 8555 §6.7).</summary>
/// <param name="Type">E.g. <c>urn:ietf:params:acme:error:badNonce</c>.</param>
/// <param name="Detail">What the server says went wrong.</param>
/// <param name="Subproblems">Per-identifier problems, if any.</param>
public sealed record AcmeProblem(string? Type, string? Detail, IReadOnlyList<AcmeProblem>? Subproblems = null)
{
    /// <summary>The part of the type after <c>urn:ietf:params:acme:error:</c>.</summary>
    [JsonIgnore]
    public string ShortType => Type is { } t && t.StartsWith(Prefix, StringComparison.Ordinal) ? t[Prefix.Length..] : Type ?? "error";

    /// <summary>One readable line: the detail and the short type.</summary>
    public override string ToString() => $"{(string.IsNullOrWhiteSpace(Detail) ? "no detail" : Detail.Trim())} ({ShortType})";

    private const string Prefix = "urn:ietf:params:acme:error:";
}

/// <summary>An order (RFC 8555 §7.1.3).</summary>
/// <param name="Status">pending, ready, processing, valid or invalid.</param>
/// <param name="Identifiers">The names.</param>
/// <param name="Authorizations">One authorization URL per name.</param>
/// <param name="Finalize">Where the CSR goes.</param>
/// <param name="Certificate">Where the certificate is, once valid.</param>
/// <param name="Error">Why it is invalid.</param>
public sealed record AcmeOrder(string Status, IReadOnlyList<AcmeIdentifier> Identifiers, IReadOnlyList<Uri> Authorizations, Uri Finalize, Uri? Certificate, AcmeProblem? Error)
{
    /// <summary>The order's own URL (the Location of its creation).</summary>
    [JsonIgnore]
    public Uri? Url { get; init; }
}

/// <summary>An authorization of one name (RFC 8555 §7.1.4).</summary>
/// <param name="Status">pending, valid, invalid, deactivated, expired or revoked.</param>
/// <param name="Identifier">The name.</param>
/// <param name="Challenges">The ways to prove it.</param>
public sealed record AcmeAuthorization(string Status, AcmeIdentifier Identifier, IReadOnlyList<AcmeChallengeInfo> Challenges);

/// <summary>A challenge of an authorization (RFC 8555 §7.1.5).</summary>
/// <param name="Type">E.g. <c>http-01</c>.</param>
/// <param name="Url">Where to tell the server it may check.</param>
/// <param name="Status">pending, processing, valid or invalid.</param>
/// <param name="Token">The token (http-01).</param>
/// <param name="Error">Why it is invalid.</param>
public sealed record AcmeChallengeInfo(string Type, Uri Url, string Status, string? Token, AcmeProblem? Error);

/// <summary>An ACME step failed; the message is readable (it is shown to customers as the reason).</summary>
public sealed class AcmeException : Exception
{
    /// <summary>A failure with a readable message.</summary>
    public AcmeException(string message, AcmeProblem? problem = null, Exception? inner = null) : base(message, inner) => Problem = problem;

    /// <summary>A failure.</summary>
    public AcmeException() : base("The ACME order failed.")
    {
    }

    /// <summary>A failure with a readable message.</summary>
    public AcmeException(string message) : base(message)
    {
    }

    /// <summary>A failure with a readable message and its cause.</summary>
    public AcmeException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>The server's problem document, if it sent one.</summary>
    public AcmeProblem? Problem { get; }
}
