using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Panel.Core.Hosting.Acme;

/// <summary>The certificate signing request an order is finalized with (RFC 8555 §7.4: PKCS#10, DER).</summary>
public static class AcmeCsr
{
    /// <summary>A CSR for the names (the first is the subject's CN, all are in the SAN), signed by the certificate's key.</summary>
    public static byte[] Create(ECDsa certificateKey, IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(certificateKey);
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count == 0)
        {
            throw new ArgumentException("A certificate needs at least one name.", nameof(names));
        }

        var request = new CertificateRequest(new X500DistinguishedName("CN=" + names[0]), certificateKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        return request.CreateSigningRequest();
    }
}
