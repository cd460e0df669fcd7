using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Panel.Core.Hosting.Acme;

namespace Panel.Tests.Core.Hosting;

/// <summary>The ACME client's signing pieces against published vectors: ES256 (RFC 7515 A.3), the JWK thumbprint, the CSR.</summary>
public sealed class AcmeJwsTests
{
    // RFC 7515 Appendix A.3: the ES256 example key (public part) and its signature over the example input.
    private const string RfcX = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    private const string RfcY = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    private const string RfcProtected = "eyJhbGciOiJFUzI1NiJ9";
    private const string RfcPayload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    private const string RfcSignature = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    private static ECDsa PublicKey(string x, string y) => ECDsa.Create(new ECParameters
    {
        Curve = ECCurve.NamedCurves.nistP256,
        Q = new ECPoint { X = Base64Url.DecodeFromChars(x), Y = Base64Url.DecodeFromChars(y) },
    });

    [Fact]
    public void The_RFC_7515_ES256_example_verifies_and_a_changed_byte_does_not()
    {
        using var key = PublicKey(RfcX, RfcY);
        AcmeJws.Verify(key, RfcProtected, RfcPayload, RfcSignature).ShouldBeTrue();
        AcmeJws.Verify(key, RfcProtected, RfcPayload + "A", RfcSignature).ShouldBeFalse();
        var jwk = AcmeJws.Jwk(key);
        jwk.ToJsonString().ShouldBe($"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{RfcX}\",\"y\":\"{RfcY}\"}}");
    }

    [Fact]
    public void The_thumbprint_is_SHA256_of_the_canonical_JWK()
    {
        // A published P-256 test key and its RFC 7638 thumbprint (hex of the SHA-256).
        using var key = PublicKey("V8ctRWc2deLSjfOjqQm7-m33SinduQbKJVgSHFj7ZxQ", "svjg0e-iAe5zElQhfqqagr4-S8k3WWgzz6JDPmRE_bk");
        AcmeJws.Thumbprint(key).ShouldBe(Base64Url.EncodeToString(Convert.FromHexString("1235335bd15b2c75f3e84f4c681d85cbc059c00d7910d1bad0690a2af566aaf8")));
        AcmeJws.KeyAuthorization("tok-EN_1", key).ShouldBe("tok-EN_1." + AcmeJws.Thumbprint(key));
    }

    [Fact]
    public void A_signed_request_carries_nonce_url_and_jwk_or_kid_and_verifies_with_the_account_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var url = new Uri("https://acme.test/new-order");
        var withJwk = JsonNode.Parse(AcmeJws.Sign(key, url, "nonce-1", null, new JsonObject { ["a"] = 1 }))!;
        var header = JsonNode.Parse(Encoding.UTF8.GetString(Base64Url.DecodeFromChars((string)withJwk["protected"]!)))!;
        ((string)header["alg"]!).ShouldBe("ES256");
        ((string)header["nonce"]!).ShouldBe("nonce-1");
        ((string)header["url"]!).ShouldBe(url.AbsoluteUri);
        header["kid"].ShouldBeNull();
        header["jwk"]!.ToJsonString().ShouldBe(AcmeJws.Jwk(key).ToJsonString());
        Encoding.UTF8.GetString(Base64Url.DecodeFromChars((string)withJwk["payload"]!)).ShouldBe("{\"a\":1}");
        Base64Url.DecodeFromChars((string)withJwk["signature"]!).Length.ShouldBe(64); // r || s, not DER
        using (var fromJwk = PublicKey((string)header["jwk"]!["x"]!, (string)header["jwk"]!["y"]!))
        {
            AcmeJws.Verify(fromJwk, (string)withJwk["protected"]!, (string)withJwk["payload"]!, (string)withJwk["signature"]!).ShouldBeTrue();
        }

        var postAsGet = JsonNode.Parse(AcmeJws.Sign(key, url, "nonce-2", "https://acme.test/acct/7", null))!;
        ((string)postAsGet["payload"]!).ShouldBe("");
        var header2 = JsonNode.Parse(Encoding.UTF8.GetString(Base64Url.DecodeFromChars((string)postAsGet["protected"]!)))!;
        ((string)header2["kid"]!).ShouldBe("https://acme.test/acct/7");
        header2["jwk"].ShouldBeNull();
        AcmeJws.Verify(key, (string)postAsGet["protected"]!, "", (string)postAsGet["signature"]!).ShouldBeTrue();
    }

    [Fact]
    public void The_CSR_names_every_name_and_is_signed_by_the_certificate_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var der = AcmeCsr.Create(key, ["shop.test", "www.shop.test"]);
        var csr = CertificateRequest.LoadSigningRequest(der, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions); // checks the signature
        csr.SubjectName.Name.ShouldBe("CN=shop.test");
        var san = new X509SubjectAlternativeNameExtension(csr.CertificateExtensions.Single(e => e.Oid?.Value == "2.5.29.17").RawData);
        san.EnumerateDnsNames().ShouldBe(["shop.test", "www.shop.test"]);
        csr.PublicKey.GetECDsaPublicKey()!.ExportSubjectPublicKeyInfo().ShouldBe(key.ExportSubjectPublicKeyInfo());
        Should.Throw<ArgumentException>(() => AcmeCsr.Create(key, []));
    }

    [Fact]
    public void Challenge_tokens_are_base64url_only()
    {
        AcmeChallengeStore.IsToken("aB3-_x").ShouldBeTrue();
        AcmeChallengeStore.IsToken("").ShouldBeFalse();
        AcmeChallengeStore.IsToken("../etc").ShouldBeFalse();
        AcmeChallengeStore.IsToken("a b").ShouldBeFalse();
        AcmeChallengeStore.IsToken(new string('a', 201)).ShouldBeFalse();
    }
}
