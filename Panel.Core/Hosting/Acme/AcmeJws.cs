using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Panel.Core.Hosting.Acme;

/// <summary>
/// The JSON Web Signatures ACME requests are made of (RFC 8555 §6.2, RFC 7515 flattened JSON): ES256 over
/// <c>BASE64URL(protected) "." BASE64URL(payload)</c> with an ECDSA P-256 key, its JWK (RFC 7517) and the JWK's
/// thumbprint (RFC 7638), which HTTP-01's key authorization carries.
/// </summary>
public static class AcmeJws
{
    /// <summary>The account key's public JWK: <c>{"crv","kty","x","y"}</c>.</summary>
    public static JsonObject Jwk(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var p = key.ExportParameters(false);
        if (key.KeySize != 256 || p.Q.X is not { Length: 32 } || p.Q.Y is not { Length: 32 })
        {
            throw new ArgumentException("ACME account keys are ECDSA P-256 (ES256).", nameof(key));
        }

        return new JsonObject { ["crv"] = "P-256", ["kty"] = "EC", ["x"] = Base64Url.EncodeToString(p.Q.X), ["y"] = Base64Url.EncodeToString(p.Q.Y) };
    }

    /// <summary>The JWK thumbprint (RFC 7638): SHA-256 of the required members in lexicographic order, no spaces, base64url.</summary>
    public static string Thumbprint(ECDsa key)
    {
        var jwk = Jwk(key);
        var canonical = $"{{\"crv\":\"{jwk["crv"]}\",\"kty\":\"{jwk["kty"]}\",\"x\":\"{jwk["x"]}\",\"y\":\"{jwk["y"]}\"}}";
        return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>HTTP-01's key authorization: the token, a dot and the account key's thumbprint (RFC 8555 §8.1).</summary>
    public static string KeyAuthorization(string token, ECDsa key) => token + "." + Thumbprint(key);

    /// <summary>
    /// A flattened JWS for an ACME POST: protected header <c>alg</c>, <c>nonce</c>, <c>url</c> and either <c>jwk</c> (new
    /// account) or <c>kid</c> (the account URL). A null payload is POST-as-GET (the empty string).
    /// </summary>
    public static string Sign(ECDsa key, Uri url, string nonce, string? kid, JsonNode? payload)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(url);
        var header = new JsonObject { ["alg"] = "ES256", ["nonce"] = nonce, ["url"] = url.AbsoluteUri };
        if (kid is null)
        {
            header["jwk"] = Jwk(key);
        }
        else
        {
            header["kid"] = kid;
        }

        var protectedPart = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header.ToJsonString()));
        var payloadPart = payload is null ? "" : Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        var signature = key.SignData(Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["protected"] = protectedPart,
            ["payload"] = payloadPart,
            ["signature"] = Base64Url.EncodeToString(signature),
        });
    }

    /// <summary>Checks an ES256 JWS signature over <c>protected.payload</c> with a public key (what a server does; for tests).</summary>
    public static bool Verify(ECDsa key, string protectedPart, string payloadPart, string signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.VerifyData(Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart), Base64Url.DecodeFromChars(signature), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }
}
