using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Panel.Core.Hosting.Acme;

/// <summary>
/// A small ACME v2 client (RFC 8555): the directory, nonces (a <c>badNonce</c> answer is retried with the fresh
/// nonce it carries), the account (ES256 JWS, <c>jwk</c> until the account URL is known, <c>kid</c> after), orders,
/// authorizations, challenges, finalization and the certificate chain. Every failure is an <see cref="AcmeException"/>
/// with a readable message; it keeps no state beyond the current nonce and the account URL.
/// </summary>
public sealed class AcmeClient(HttpClient http, Uri directoryUrl, ECDsa accountKey)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private const int BadNonceRetries = 5;
    private AcmeDirectory? directory;
    private string? nonce;

    /// <summary>The account's URL (the JWS <c>kid</c>), once registered or when known from before.</summary>
    public string? AccountUrl { get; set; }

    /// <summary>The account key's HTTP-01 key authorization for a token.</summary>
    public string KeyAuthorization(string token) => AcmeJws.KeyAuthorization(token, accountKey);

    /// <summary>Reads (once) the server's directory.</summary>
    public async Task<AcmeDirectory> DirectoryAsync(CancellationToken cancellationToken = default)
    {
        if (directory is not null)
        {
            return directory;
        }

        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, directoryUrl), cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new AcmeException($"the ACME directory {directoryUrl} answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }

        directory = Parse<AcmeDirectory>(body, "directory");
        if (directory.NewNonce is null || directory.NewAccount is null || directory.NewOrder is null)
        {
            throw new AcmeException($"{directoryUrl} is not an ACME directory (no newNonce, newAccount or newOrder)");
        }

        return directory;
    }

    /// <summary>Creates the account, or finds it when the key has one already (agreeing to the terms); returns its URL.</summary>
    public async Task<string> RegisterAsync(string? email, CancellationToken cancellationToken = default)
    {
        var dir = await DirectoryAsync(cancellationToken);
        var payload = new JsonObject { ["termsOfServiceAgreed"] = true };
        if (!string.IsNullOrWhiteSpace(email))
        {
            payload["contact"] = new JsonArray("mailto:" + email.Trim());
        }

        AccountUrl = null; // newAccount is signed with the key itself (jwk)

        var response = await PostAsync(dir.NewAccount, payload, useJwk: true, cancellationToken);
        AccountUrl = response.Location?.AbsoluteUri ?? throw new AcmeException("the ACME server made the account but gave no account URL");
        return AccountUrl;
    }

    /// <summary>Changes the account's contact (RFC 8555 §7.3.2; none: an empty list).</summary>
    public async Task UpdateContactAsync(string? email, CancellationToken cancellationToken = default)
    {
        var contact = string.IsNullOrWhiteSpace(email) ? new JsonArray() : new JsonArray("mailto:" + email.Trim());
        await PostAsync(new Uri(AccountUrl ?? throw new InvalidOperationException("Register the ACME account first.")), new JsonObject { ["contact"] = contact }, useJwk: false, cancellationToken);
    }

    /// <summary>Places an order for the names.</summary>
    public async Task<AcmeOrder> NewOrderAsync(IEnumerable<string> names, CancellationToken cancellationToken = default)
    {
        var dir = await DirectoryAsync(cancellationToken);
        var identifiers = new JsonArray([.. names.Select(n => (JsonNode)new JsonObject { ["type"] = "dns", ["value"] = n })]);
        var response = await PostAsync(dir.NewOrder, new JsonObject { ["identifiers"] = identifiers }, useJwk: false, cancellationToken);
        return Parse<AcmeOrder>(response.Body, "order") with { Url = response.Location ?? throw new AcmeException("the ACME server made the order but gave no order URL") };
    }

    /// <summary>Reads an order again (POST-as-GET); with the server's Retry-After.</summary>
    public async Task<(AcmeOrder Order, TimeSpan? RetryAfter)> GetOrderAsync(Uri url, CancellationToken cancellationToken = default)
    {
        var response = await PostAsync(url, null, useJwk: false, cancellationToken);
        return (Parse<AcmeOrder>(response.Body, "order") with { Url = url }, response.RetryAfter);
    }

    /// <summary>Reads an authorization (POST-as-GET); with the server's Retry-After.</summary>
    public async Task<(AcmeAuthorization Authorization, TimeSpan? RetryAfter)> GetAuthorizationAsync(Uri url, CancellationToken cancellationToken = default)
    {
        var response = await PostAsync(url, null, useJwk: false, cancellationToken);
        return (Parse<AcmeAuthorization>(response.Body, "authorization"), response.RetryAfter);
    }

    /// <summary>Tells the server the challenge is ready to be checked (the empty object).</summary>
    public async Task<AcmeChallengeInfo> AnswerChallengeAsync(Uri url, CancellationToken cancellationToken = default)
        => Parse<AcmeChallengeInfo>((await PostAsync(url, new JsonObject(), useJwk: false, cancellationToken)).Body, "challenge");

    /// <summary>Sends the CSR (DER) to the order's finalize URL.</summary>
    public async Task<(AcmeOrder Order, TimeSpan? RetryAfter)> FinalizeAsync(AcmeOrder order, byte[] csrDer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(order);
        var response = await PostAsync(order.Finalize, new JsonObject { ["csr"] = System.Buffers.Text.Base64Url.EncodeToString(csrDer) }, useJwk: false, cancellationToken);
        return (Parse<AcmeOrder>(response.Body, "order") with { Url = order.Url }, response.RetryAfter);
    }

    /// <summary>Downloads the certificate chain (PEM, leaf first).</summary>
    public async Task<string> DownloadCertificateAsync(Uri url, CancellationToken cancellationToken = default)
    {
        var response = await PostAsync(url, null, useJwk: false, cancellationToken, "application/pem-certificate-chain");
        if (!response.Body.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw new AcmeException("the ACME server's certificate download is not a PEM chain");
        }

        return response.Body;
    }

    private sealed record Response(HttpStatusCode Status, string Body, Uri? Location, TimeSpan? RetryAfter);

    private async Task<Response> PostAsync(Uri url, JsonNode? payload, bool useJwk, CancellationToken cancellationToken, string? accept = null)
    {
        if (!useJwk && AccountUrl is null)
        {
            throw new InvalidOperationException("Register the ACME account first.");
        }

        for (var attempt = 0; ; attempt++)
        {
            var currentNonce = nonce ?? await NewNonceAsync(cancellationToken);
            nonce = null; // each nonce is good once
            var body = AcmeJws.Sign(accountKey, url, currentNonce, useJwk ? null : AccountUrl, payload);
            using var response = await SendAsync(() =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/jose+json");
                if (accept is not null)
                {
                    request.Headers.Accept.ParseAdd(accept);
                }

                return request;
            }, cancellationToken);
            KeepNonce(response);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return new Response(response.StatusCode, text, Absolute(url, response.Headers.Location), RetryAfter(response));
            }

            var problem = TryParse<AcmeProblem>(text);
            if (problem?.ShortType == "badNonce" && attempt < BadNonceRetries)
            {
                continue; // RFC 8555 §6.5: retry with the nonce the error carried
            }

            throw new AcmeException(
                problem is null ? $"the ACME server answered {(int)response.StatusCode} {response.ReasonPhrase} to {url.AbsolutePath}" : $"the ACME server refused: {problem}",
                problem);
        }
    }

    private async Task<string> NewNonceAsync(CancellationToken cancellationToken)
    {
        var dir = await DirectoryAsync(cancellationToken);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Head, dir.NewNonce), cancellationToken);
        KeepNonce(response);
        return nonce ?? throw new AcmeException("the ACME server gave no nonce (Replay-Nonce)");
    }

    private void KeepNonce(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("Replay-Nonce", out var values) && values.FirstOrDefault() is { Length: > 0 } value)
        {
            nonce = value;
        }
    }

    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> make, CancellationToken cancellationToken)
    {
        using var request = make();
        try
        {
            return await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new AcmeException($"cannot reach the ACME server at {request.RequestUri?.GetLeftPart(UriPartial.Authority)}: {Innermost(ex)}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AcmeException($"the ACME server at {request.RequestUri?.GetLeftPart(UriPartial.Authority)} did not answer in time", ex);
        }
    }

    private static string Innermost(Exception ex)
    {
        // The outer messages usually repeat the inner ones ("Connection refused (host:port)" over "Connection refused").
        var messages = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
        {
            var message = e.Message.Trim().TrimEnd('.');
            if (!messages.Any(m => m.Contains(message, StringComparison.Ordinal)))
            {
                messages.Add(message);
            }
        }

        return string.Join(": ", messages);
    }

    /// <summary>The server's Retry-After (seconds or a date), if it sent one.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        return header?.Date is { } date ? date - DateTimeOffset.UtcNow : null;
    }

    private static Uri? Absolute(Uri baseUrl, Uri? location) => location is null ? null : location.IsAbsoluteUri ? location : new Uri(baseUrl, location);

    private static T Parse<T>(string json, string what)
        => TryParse<T>(json) ?? throw new AcmeException($"the ACME server's {what} could not be read");

    private static T? TryParse<T>(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Json);
        }
        catch (JsonException)
        {
            return default;
        }
    }
}
