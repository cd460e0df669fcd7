using System.Net;
using AngleSharp.Dom;
using AngleSharp.Html.Dom;
using AngleSharp.Html.Parser;

namespace Panel.Tests.Infrastructure;

/// <summary>
/// HTTP as a browser without JavaScript sees the panel: cookies kept, redirects not followed
/// (so tests can assert them), and static forms filled and posted with their antiforgery token.
/// </summary>
public sealed class PanelHttpClient : IDisposable
{
    private static readonly HtmlParser Parser = new();
    private readonly HttpClient http;

    /// <summary>Creates a client for a panel at <paramref name="baseAddress"/>.</summary>
    public PanelHttpClient(Uri baseAddress)
    {
        Cookies = new CookieContainer();
        http = new HttpClient(new HttpClientHandler { CookieContainer = Cookies, AllowAutoRedirect = false, UseCookies = true })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    /// <summary>The cookie jar (shared across requests).</summary>
    public CookieContainer Cookies { get; }

    /// <summary>GET without following redirects.</summary>
    public Task<HttpResponseMessage> GetAsync(string path) => http.GetAsync(new Uri(path, UriKind.RelativeOrAbsolute));

    /// <summary>GET, following redirects, and parse the final page.</summary>
    public async Task<Page> GetPageAsync(string path)
    {
        var response = await FollowAsync(await GetAsync(path));
        return await Page.FromAsync(response);
    }

    /// <summary>Loads <paramref name="path"/>, fills the form named <paramref name="formName"/> and posts it. Does not follow the answer's redirect.</summary>
    public async Task<HttpResponseMessage> SubmitAsync(string path, string formName, IReadOnlyDictionary<string, string> values)
    {
        var page = await GetPageAsync(path);
        return await SubmitAsync(page, formName, values);
    }

    /// <summary>Fills and posts a form of an already loaded page.</summary>
    public async Task<HttpResponseMessage> SubmitAsync(Page page, string formName, IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(page);
        var form = page.Document.QuerySelectorAll<IHtmlFormElement>("form")
            .FirstOrDefault(f => f.QuerySelector<IHtmlInputElement>("input[name=_handler]")?.Value == formName)
            ?? throw new InvalidOperationException($"no form '{formName}' on {page.Url}:\n{page.Text[..Math.Min(page.Text.Length, 2000)]}");

        var fields = new List<KeyValuePair<string, string>>();
        foreach (var input in form.QuerySelectorAll<IHtmlInputElement>("input[name]"))
        {
            if (input.Type is "checkbox" or "radio")
            {
                continue;
            }

            fields.Add(new(input.Name!, input.Value ?? ""));
        }

        foreach (var (name, value) in values)
        {
            fields.RemoveAll(f => f.Key == name);
            fields.Add(new(name, value));
        }

        var action = string.IsNullOrEmpty(form.GetAttribute("action")) ? page.Url.PathAndQuery : form.GetAttribute("action")!;
        using var content = new FormUrlEncodedContent(fields);
        return await http.PostAsync(new Uri(action, action.StartsWith("http", StringComparison.Ordinal) ? UriKind.Absolute : UriKind.Relative), content);
    }

    /// <summary>Fills and posts the sign-in form (of <paramref name="path"/>, which may carry a returnUrl). Does not follow the answer's redirect.</summary>
    public Task<HttpResponseMessage> SignInAsync(string email, string password, string path = "/account/login")
        => SubmitAsync(path, "login", new Dictionary<string, string> { ["Input.Email"] = email, ["Input.Password"] = password });

    /// <summary>Signs in as the admin the test panel seeds.</summary>
    public Task<HttpResponseMessage> SignInAsAdminAsync() => SignInAsync(PanelProcess.AdminEmail, PanelProcess.AdminPassword);

    /// <summary>Follows redirects (GET) until a non-redirect answer.</summary>
    public async Task<HttpResponseMessage> FollowAsync(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        for (var hops = 0; hops < 10 && IsRedirect(response.StatusCode); hops++)
        {
            var location = response.Headers.Location!;
            response.Dispose();
            response = await http.GetAsync(location.IsAbsoluteUri ? location : new Uri(location.OriginalString, UriKind.Relative));
        }

        return response;
    }

    /// <inheritdoc />
    public void Dispose() => http.Dispose();

    private static bool IsRedirect(HttpStatusCode code) => (int)code is >= 300 and < 400;

    /// <summary>A loaded HTML page.</summary>
    public sealed class Page
    {
        private Page(HttpResponseMessage response, IHtmlDocument document, Uri url)
        {
            Response = response;
            Document = document;
            Url = url;
        }

        /// <summary>The answer.</summary>
        public HttpResponseMessage Response { get; }

        /// <summary>The parsed document.</summary>
        public IHtmlDocument Document { get; }

        /// <summary>The final URL.</summary>
        public Uri Url { get; }

        /// <summary>The page's visible text.</summary>
        public string Text => Document.Body?.TextContent ?? "";

        /// <summary>The text of the first element matching <paramref name="selector"/>, or null.</summary>
        public string? TextOf(string selector) => Document.QuerySelector(selector)?.TextContent.Trim();

        internal static async Task<Page> FromAsync(HttpResponseMessage response)
        {
            var html = await response.Content.ReadAsStringAsync();
            return new Page(response, Parser.ParseDocument(html), response.RequestMessage!.RequestUri!);
        }
    }
}
