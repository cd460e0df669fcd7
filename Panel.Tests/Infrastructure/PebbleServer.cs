using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Panel.Core;
using Panel.Core.Hosting.Acme;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// Let's Encrypt's RFC 8555 test server (Debian's <c>pebble</c>) on loopback, for one test: its HTTPS on a certificate
/// of a throw-away CA made here (<see cref="TlsCaFile"/>, what <c>Panel:Acme:TrustedCaFile</c> points at), HTTP-01
/// checks sent to the edge's HTTP port, and names resolved by the package's <c>pebble-challtestsrv</c> as DNS server
/// (every name is 127.0.0.1 unless a test says otherwise: the stand-in for the internet's DNS). Both processes are
/// stopped and the folder removed on dispose.
/// </summary>
public sealed class PebbleServer : IAsyncDisposable
{
    private readonly string folder;
    private readonly List<Process> processes = [];
    private readonly StringBuilder output = new();

    private PebbleServer(string folder, int port, int managementPort, int dnsManagementPort)
    {
        this.folder = folder;
        DirectoryUrl = $"https://127.0.0.1:{port}/dir";
        ManagementUrl = $"https://127.0.0.1:{managementPort}";
        DnsManagementUrl = $"http://127.0.0.1:{dnsManagementPort}";
        TlsCaFile = Path.Combine(folder, "tls-ca.pem");
    }

    /// <summary>Why pebble cannot run here (not installed), or null.</summary>
    public static string? Unavailable => File.Exists("/usr/bin/pebble") && File.Exists("/usr/bin/pebble-challtestsrv")
        ? null : "Debian's pebble package (pebble, pebble-challtestsrv) is not installed";

    /// <summary>The ACME directory URL.</summary>
    public string DirectoryUrl { get; }

    /// <summary>Pebble's management interface (its issuing roots).</summary>
    public string ManagementUrl { get; }

    /// <summary>The DNS stand-in's management interface.</summary>
    public string DnsManagementUrl { get; }

    /// <summary>The CA of pebble's own HTTPS certificate (PEM).</summary>
    public string TlsCaFile { get; }

    /// <summary>What both processes printed.</summary>
    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>The ACME options that point the panel at this server.</summary>
    public AcmeOptions Options => new() { DirectoryUrl = DirectoryUrl, Email = "acme-test@example.test", TrustedCaFile = TlsCaFile, OrderTimeoutSeconds = 60 };

    /// <summary>Starts the DNS stand-in and pebble (HTTP-01 checks to <paramref name="httpPort"/>) and waits for the directory.</summary>
    public static async Task<PebbleServer> StartAsync(int httpPort)
    {
        var folder = Directory.CreateTempSubdirectory("panel-pebble-").FullName;
        var server = new PebbleServer(folder, FreePort(), FreePort(), FreePort());
        try
        {
            await server.LaunchAsync(httpPort);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task LaunchAsync(int httpPort)
    {
        WriteTlsCertificate();
        var dnsPort = FreeUdpPort();
        var config = Path.Combine(folder, "pebble-config.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            pebble = new
            {
                listenAddress = new Uri(DirectoryUrl).Authority,
                managementListenAddress = new Uri(ManagementUrl).Authority,
                certificate = Path.Combine(folder, "tls-cert.pem"),
                privateKey = Path.Combine(folder, "tls-key.pem"),
                httpPort,
                tlsPort = FreePort(), // TLS-ALPN-01 is never offered to (the panel answers HTTP-01 only)
                ocspResponderURL = "",
                externalAccountBindingRequired = false,
            },
        }));

        Start("/usr/bin/pebble-challtestsrv", new Dictionary<string, string>(), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", $"127.0.0.1:{dnsPort}",
            "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", new Uri(DnsManagementUrl).Authority);
        // No random sleeps before checks; some nonces refused, so the client's badNonce retry runs for real.
        Start("/usr/bin/pebble", new Dictionary<string, string> { ["PEBBLE_VA_NOSLEEP"] = "1", ["PEBBLE_WFE_NONCEREJECT"] = "15", ["PEBBLE_AUTHZREUSE"] = "0" },
            "-config", config, "-dnsserver", $"127.0.0.1:{dnsPort}");

        using var http = AcmeIssuer.CreateHttpClient(Options);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(DirectoryUrl);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or Panel.Core.Hosting.Acme.AcmeException)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"pebble did not answer at {DirectoryUrl}: {ex.Message}\n{Output}", ex);
                }
            }

            if (processes.Any(p => p.HasExited))
            {
                throw new InvalidOperationException("pebble exited:\n" + Output);
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Pebble's issuing root (PEM): what a client trusts to verify certificates pebble issued.</summary>
    public async Task<string> RootPemAsync()
    {
        using var http = AcmeIssuer.CreateHttpClient(Options);
        return await http.GetStringAsync(ManagementUrl + "/roots/0");
    }

    /// <summary>Makes the DNS stand-in answer <paramref name="address"/> for a name (instead of 127.0.0.1).</summary>
    public async Task SetAddressAsync(string name, string address)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsJsonAsync(DnsManagementUrl + "/add-a", new { host = name, addresses = new[] { address } });
        response.EnsureSuccessStatusCode();
    }

    private void Start(string file, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            start.Environment[k] = v;
        }

        var p = new Process { StartInfo = start };
        p.OutputDataReceived += (_, e) => Append(e.Data);
        p.ErrorDataReceived += (_, e) => Append(e.Data);
        p.Start();
        processes.Add(p);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            if (output.Length < 200_000)
            {
                output.AppendLine(line);
            }
        }
    }

    /// <summary>A throw-away CA and, issued by it, pebble's HTTPS certificate for 127.0.0.1 and localhost.</summary>
    private void WriteTlsCertificate()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=VpsPanel test: pebble TLS CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(2));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var leaf = request.Create(ca, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(12));
        File.WriteAllText(TlsCaFile, ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(folder, "tls-cert.pem"), leaf.ExportCertificatePem());
        File.WriteAllText(Path.Combine(folder, "tls-key.pem"), key.ExportPkcs8PrivateKeyPem());
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var p in processes)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
            catch (InvalidOperationException)
            {
                // exited meanwhile
            }

            p.Dispose();
        }

        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // best effort: the temporary folder
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static int FreeUdpPort()
    {
        using var u = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)u.Client.LocalEndPoint!).Port;
    }
}
