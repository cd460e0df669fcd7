using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Panel.Core.Hosting.Acme;

namespace Panel.Tests.Core.Hosting;

/// <summary>
/// The client's protocol logic at its one seam (the HTTP handler): badNonce retries with the nonce the error carried,
/// Retry-After, and readable failures. The whole protocol runs against the real pebble in <see cref="AcmeTests"/>.
/// </summary>
public sealed class AcmeClientTests
{
    private static readonly Uri Directory = new("https://acme.test/dir");

    [Fact]
    public async Task A_badNonce_answer_is_retried_with_the_nonce_it_carried_and_the_account_url_is_kept()
    {
        var server = new ScriptedServer();
        server.Post("/new-acct", _ => Problem("badNonce", "JWS has an invalid anti-replay nonce", "nonce-from-error"));
        server.Post("/new-acct", _ => Answer(HttpStatusCode.Created, "{\"status\":\"valid\"}", "nonce-3", location: "https://acme.test/acct/1"));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var http = new HttpClient(server);
        var client = new AcmeClient(http, Directory, key);

        (await client.RegisterAsync("ops@example.test")).ShouldBe("https://acme.test/acct/1");
        server.Nonces.ShouldBe(["nonce-1", "nonce-from-error"]); // the first from newNonce, the retry with the error's
        var payload = server.Payloads[^1]!;
        ((bool)payload["termsOfServiceAgreed"]!).ShouldBeTrue();
        ((string)payload["contact"]![0]!).ShouldBe("mailto:ops@example.test");
    }

    [Fact]
    public async Task Other_problems_become_a_readable_AcmeException_and_retry_after_is_read()
    {
        var server = new ScriptedServer();
        server.Post("/new-acct", _ => Answer(HttpStatusCode.Created, "{}", "n2", location: "https://acme.test/acct/1"));
        server.Post("/order/1", _ => Answer(HttpStatusCode.OK,
            "{\"status\":\"processing\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],\"authorizations\":[],\"finalize\":\"https://acme.test/fin/1\"}", "n3", retryAfter: 3));
        server.Post("/new-order", _ => Problem("rejectedIdentifier", "Invalid identifiers requested", "n4"));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var http = new HttpClient(server);
        var client = new AcmeClient(http, Directory, key);
        await client.RegisterAsync(null);
        server.Payloads[^1]!["contact"].ShouldBeNull();

        var (order, retryAfter) = await client.GetOrderAsync(new Uri("https://acme.test/order/1"));
        order.Status.ShouldBe("processing");
        order.Url.ShouldBe(new Uri("https://acme.test/order/1"));
        retryAfter.ShouldBe(TimeSpan.FromSeconds(3));
        server.Payloads[^1].ShouldBeNull(); // POST-as-GET: an empty payload

        var refused = await Should.ThrowAsync<AcmeException>(() => client.NewOrderAsync(["a.test"]));
        refused.Message.ShouldBe("the ACME server refused: Invalid identifiers requested (rejectedIdentifier)");
        refused.Problem!.ShortType.ShouldBe("rejectedIdentifier");
    }

    [Fact]
    public async Task An_unreachable_server_is_said_in_words()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var http = new HttpClient(new RefusingHandler());
        var client = new AcmeClient(http, Directory, key);
        var ex = await Should.ThrowAsync<AcmeException>(() => client.RegisterAsync(null));
        ex.Message.ShouldBe("cannot reach the ACME server at https://acme.test: Connection refused (acme.test:443)");
    }

    private static HttpResponseMessage Problem(string type, string detail, string nonce)
        => Answer(HttpStatusCode.BadRequest, $"{{\"type\":\"urn:ietf:params:acme:error:{type}\",\"detail\":\"{detail}\"}}", nonce);

    private static HttpResponseMessage Answer(HttpStatusCode status, string json, string nonce, string? location = null, int? retryAfter = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        response.Headers.Add("Replay-Nonce", nonce);
        if (location is not null)
        {
            response.Headers.Location = new Uri(location);
        }

        if (retryAfter is { } seconds)
        {
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));
        }

        return response;
    }

    /// <summary>An ACME server in a script: the directory, newNonce (nonce-1), then the queued answers per path, in order.</summary>
    private sealed class ScriptedServer : HttpMessageHandler
    {
        private readonly Dictionary<string, Queue<Func<HttpRequestMessage, HttpResponseMessage>>> posts = [];

        public List<string> Nonces { get; } = [];

        public List<JsonNode?> Payloads { get; } = [];

        public void Post(string path, Func<HttpRequestMessage, HttpResponseMessage> answer)
        {
            if (!posts.TryGetValue(path, out var queue))
            {
                posts[path] = queue = new();
            }

            queue.Enqueue(answer);
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            if (request.Method == HttpMethod.Get && path == "/dir")
            {
                return new HttpResponseMessage(HttpStatusCode.OK)
                {
                    Content = new StringContent("{\"newNonce\":\"https://acme.test/nonce\",\"newAccount\":\"https://acme.test/new-acct\",\"newOrder\":\"https://acme.test/new-order\"}"),
                };
            }

            if (request.Method == HttpMethod.Head && path == "/nonce")
            {
                var fresh = new HttpResponseMessage(HttpStatusCode.OK);
                fresh.Headers.Add("Replay-Nonce", "nonce-1");
                return fresh;
            }

            request.Content!.Headers.ContentType!.MediaType.ShouldBe("application/jose+json");
            var jws = JsonNode.Parse(await request.Content.ReadAsStringAsync(cancellationToken))!;
            var header = JsonNode.Parse(Encoding.UTF8.GetString(Base64Url.DecodeFromChars((string)jws["protected"]!)))!;
            ((string)header["url"]!).ShouldBe(request.RequestUri.AbsoluteUri);
            Nonces.Add((string)header["nonce"]!);
            var payload = (string)jws["payload"]!;
            Payloads.Add(payload.Length == 0 ? null : JsonNode.Parse(Encoding.UTF8.GetString(Base64Url.DecodeFromChars(payload))));
            return posts.TryGetValue(path, out var queue) && queue.Count > 0 ? queue.Dequeue()(request) : new HttpResponseMessage(HttpStatusCode.NotFound);
        }
    }

    private sealed class RefusingHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => throw new HttpRequestException("Connection refused (acme.test:443)", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused));
    }
}
