using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Api;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Api;

/// <summary>Base of the API tests: users and tokens made with the real services, HTTP against the shared panel process.</summary>
public abstract class ApiTest(PanelFixture fixture) : PanelTest(fixture)
{
    /// <summary>JSON as the API writes it (camelCase).</summary>
    protected static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The customer scopes.</summary>
    protected static readonly string[] CustomerScopes = [ApiScopes.ServersRead, ApiScopes.ServersWrite, ApiScopes.BillingRead, ApiScopes.BillingWrite];

    /// <summary>A new customer.</summary>
    protected async Task<Actor> CustomerAsync(string prefix = "customer")
    {
        var email = NewEmail(prefix);
        var user = await Fixture.Services.CreateUserAsync(email, "Customer-Passw0rd", Roles.Customer);
        return new Actor(user.Id, email, IsAdmin: false);
    }

    /// <summary>The admin the fixture seeds.</summary>
    protected async Task<Actor> AdminAsync()
    {
        await using var db = Fixture.Database.CreateContext();
        var id = await db.Users.Where(u => u.Email == PanelProcess.AdminEmail).Select(u => u.Id).FirstAsync();
        return new Actor(id, PanelProcess.AdminEmail, IsAdmin: true);
    }

    /// <summary>Makes a token with the real service and returns its secret.</summary>
    protected async Task<string> TokenAsync(Actor owner, IReadOnlyList<string> scopes, ApiTokenKind kind = ApiTokenKind.Personal, TimeSpan? lifetime = null)
    {
        var (scope, tokens) = Fixture.Resolve<ApiTokenService>();
        await using (scope)
        {
            var created = await tokens.CreateAsync(owner, new ApiTokenRequest("test", scopes, DateTime.UtcNow + (lifetime ?? TimeSpan.FromDays(30)), kind));
            return created.Secret;
        }
    }

    /// <summary>An HTTP client for the panel with <paramref name="token"/> as its bearer (none when null).</summary>
    protected HttpClient Client(string? token)
    {
        var http = new HttpClient { BaseAddress = Fixture.App.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }

    /// <summary>Sends a call; mutating ones get <paramref name="key"/> (a new one when null) as their Idempotency-Key.</summary>
    protected static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string path, object? body = null, string? key = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (method != HttpMethod.Get)
        {
            request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString());
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: Json);
        }

        return await http.SendAsync(request);
    }

    /// <summary>Reads a problem+json answer and checks its shape.</summary>
    protected static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, int status)
    {
        ((int)response.StatusCode).ShouldBe(status, await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("status").GetInt32().ShouldBe(status);
        return problem;
    }
}
