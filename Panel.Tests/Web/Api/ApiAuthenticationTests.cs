using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Api;
using Panel.Core.Domain.Audit;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Api;

/// <summary>Tokens: what the service accepts, what it stores, and who the API lets in (401, 403, 429).</summary>
public sealed class ApiAuthenticationTests(PanelFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task Token_requests_are_checked_and_only_the_secrets_hash_is_stored()
    {
        var customer = await CustomerAsync();
        var (scope, tokens) = Fixture.Resolve<ApiTokenService>();
        await using (scope)
        {
            var now = DateTime.UtcNow;
            (await Should.ThrowAsync<PanelRefusedException>(() => tokens.CreateAsync(customer, new ApiTokenRequest("old", [ApiScopes.ServersRead], now.AddMinutes(-1)))))
                .Message.ShouldContain("future");
            (await Should.ThrowAsync<PanelRefusedException>(() => tokens.CreateAsync(customer, new ApiTokenRequest("long", [ApiScopes.ServersRead], now.AddDays(400)))))
                .Message.ShouldContain("at most a year");
            (await Should.ThrowAsync<PanelRefusedException>(() => tokens.CreateAsync(customer, new ApiTokenRequest("odd", ["servers:everything"], now.AddDays(1)))))
                .Message.ShouldContain("no scope called servers:everything");
            (await Should.ThrowAsync<PanelRefusedException>(() => tokens.CreateAsync(customer, new ApiTokenRequest("none", [], now.AddDays(1))))).Field.ShouldBe("Scopes");
            (await Should.ThrowAsync<PanelRefusedException>(() => tokens.CreateAsync(customer, new ApiTokenRequest(" ", [ApiScopes.ServersRead], now.AddDays(1))))).Field.ShouldBe("Name");
            (await Should.ThrowAsync<PanelRefusedException>(() => tokens.CreateAsync(customer, new ApiTokenRequest("prov", [ApiScopes.Provisioning], now.AddDays(1)))))
                .Message.ShouldContain("admin tokens only");
            await Should.ThrowAsync<UnauthorizedAccessException>(() => tokens.CreateAsync(customer, new ApiTokenRequest("adm", [ApiScopes.ServersRead], now.AddDays(1), ApiTokenKind.Admin)));

            var created = await tokens.CreateAsync(customer, new ApiTokenRequest("deploy", [ApiScopes.ServersRead], now.AddDays(365)));
            created.Secret.ShouldStartWith("vpsp_");
            created.Secret.Length.ShouldBe(45);
            (await tokens.ListAsync(customer)).Single().Name.ShouldBe("deploy");

            await using var db = Fixture.Database.CreateContext();
            var row = await db.ApiTokens.SingleAsync();
            row.SecretHash.ShouldBe(SHA256.HashData(Encoding.UTF8.GetBytes(created.Secret)));
            row.Prefix.ShouldBe(created.Secret[..9]);
            // Nothing refused was stored, and no column holds the secret.
            var dump = string.Join("|", row.Name, row.Prefix, string.Join(",", row.Scopes), Convert.ToHexString(row.SecretHash));
            dump.ShouldNotContain(created.Secret[9..]);
            (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.ApiTokenCreated)).ShouldBe(1);
            (await db.AuditEvents.CountAsync(e => e.Action == AuditActions.ApiTokenRefused)).ShouldBe(1);

            // Someone else cannot revoke it.
            var other = await CustomerAsync("other");
            await Should.ThrowAsync<PanelNotFoundException>(() => tokens.RevokeAsync(other, row.Id));
        }
    }

    [Fact]
    public async Task Missing_unknown_expired_and_revoked_tokens_get_401_problem()
    {
        var customer = await CustomerAsync();
        var good = await TokenAsync(customer, [ApiScopes.ServersRead]);
        var expired = await TokenAsync(customer, [ApiScopes.ServersRead]);
        var revoked = await TokenAsync(customer, [ApiScopes.ServersRead]);
        await using (var db = Fixture.Database.CreateContext())
        {
            var hash = ApiTokenService.Hash(expired);
            await db.ApiTokens.Where(t => t.SecretHash == hash).ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTime.UtcNow.AddSeconds(-1)));
        }

        var (scope, tokens) = Fixture.Resolve<ApiTokenService>();
        await using (scope)
        {
            var id = (await tokens.ListAsync(customer)).Single(t => revoked.StartsWith(t.Prefix, StringComparison.Ordinal)).Id;
            await tokens.RevokeAsync(customer, id);
            await Should.ThrowAsync<PanelRefusedException>(() => tokens.RevokeAsync(customer, id));
        }

        using (var ok = Client(good))
        {
            (await ok.GetAsync(new Uri("/api/v1/servers", UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        foreach (var (token, why) in new[] { ((string?)null, "Send an API token"), ("vpsp_" + new string('x', 40), "unknown, expired or revoked"), (expired, "unknown, expired or revoked"), (revoked, "unknown, expired or revoked"), ("Basic abc", "unknown, expired or revoked") })
        {
            using var http = Client(token);
            var response = await http.GetAsync(new Uri("/api/v1/servers", UriKind.Relative));
            var problem = await ProblemAsync(response, 401);
            problem.GetProperty("detail").GetString()!.ShouldContain(why);
            response.Headers.WwwAuthenticate.ToString().ShouldBe("Bearer");
        }

        // A signed-in browser's cookie is no API credential.
        using var browser = Fixture.App.CreateClient();
        await browser.SignInAsAdminAsync();
        (await browser.GetAsync("/api/v1/servers")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        await using var check = Fixture.Database.CreateContext();
        (await check.AuditEvents.CountAsync(e => e.Action == AuditActions.ApiUnauthorized)).ShouldBe(2);
        (await check.ApiTokens.CountAsync(t => t.LastUsedAt != null)).ShouldBe(1);
    }

    [Fact]
    public async Task A_token_without_the_scope_or_role_gets_403_problem()
    {
        var customer = await CustomerAsync();
        var admin = await AdminAsync();
        using var readOnly = Client(await TokenAsync(customer, [ApiScopes.ServersRead]));
        var problem = await ProblemAsync(await SendAsync(readOnly, HttpMethod.Post, "/api/v1/servers/1/start"), 403);
        problem.GetProperty("detail").GetString()!.ShouldContain("servers:write");
        await ProblemAsync(await SendAsync(readOnly, HttpMethod.Get, "/api/v1/invoices"), 403);

        // An admin's personal token acts as a customer: no provisioning, and only its owner's servers.
        using var personal = Client(await TokenAsync(admin, CustomerScopes));
        (await ProblemAsync(await SendAsync(personal, HttpMethod.Get, "/api/v1/provisioning/services/x"), 403))
            .GetProperty("detail").GetString()!.ShouldContain("admin token");
        // An admin token without the provisioning scope.
        using var adminRead = Client(await TokenAsync(admin, [ApiScopes.ServersRead], ApiTokenKind.Admin));
        await ProblemAsync(await SendAsync(adminRead, HttpMethod.Get, "/api/v1/provisioning/services/x"), 403);
        using var provisioning = Client(await TokenAsync(admin, [ApiScopes.Provisioning], ApiTokenKind.Admin));
        (await ProblemAsync(await SendAsync(provisioning, HttpMethod.Get, "/api/v1/provisioning/services/x"), 404))
            .GetProperty("detail").GetString()!.ShouldContain("service id x");
    }

    [Fact]
    public async Task Mutating_calls_need_an_idempotency_key_and_bad_bodies_are_problems()
    {
        var customer = await CustomerAsync();
        using var http = Client(await TokenAsync(customer, CustomerScopes));
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/servers/1/start", UriKind.Relative)))
        {
            (await ProblemAsync(await http.SendAsync(request), 400)).GetProperty("detail").GetString()!.ShouldContain("Idempotency-Key");
        }

        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/servers", UriKind.Relative)))
        {
            request.Headers.Add("Idempotency-Key", "k1");
            request.Content = new StringContent("{not json", Encoding.UTF8, "application/json");
            await ProblemAsync(await http.SendAsync(request), 400);
        }

        // A refusal by the service: its message, the field, nothing created.
        var refused = await ProblemAsync(await SendAsync(http, HttpMethod.Post, "/api/v1/servers", new { planId = 1, imageId = 1, hostname = "bad host!" }), 400);
        refused.GetProperty("field").GetString().ShouldBe("Hostname");
        await ProblemAsync(await SendAsync(http, HttpMethod.Get, "/api/v1/no/such/route"), 404);
        await using var db = Fixture.Database.CreateContext();
        (await db.Vpses.CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task Each_token_has_its_own_rate_limit_answered_with_429_and_retry_after()
    {
        var customer = await CustomerAsync();
        using var busy = Client(await TokenAsync(customer, [ApiScopes.ServersRead]));
        using var calm = Client(await TokenAsync(customer, [ApiScopes.ServersRead]));
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var batch = 0; batch < 32 && limited is null; batch++)
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => busy.GetAsync(new Uri("/api/v1/operations/0", UriKind.Relative))));
            statuses.AddRange(answers.Select(a => a.StatusCode));
            limited = answers.FirstOrDefault(a => a.StatusCode == HttpStatusCode.TooManyRequests);
        }

        limited.ShouldNotBeNull("no 429 after 320 calls in a minute");
        statuses.Count(s => s == HttpStatusCode.NotFound).ShouldBe(300);
        (await ProblemAsync(limited, 429)).GetProperty("detail").GetString()!.ShouldContain("300 a minute");
        int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture).ShouldBeInRange(1, 60);
        (await calm.GetAsync(new Uri("/api/v1/operations/0", UriKind.Relative))).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Idempotency_keys_replay_for_a_week_and_the_daily_purge_removes_older_ones()
    {
        var customer = await CustomerAsync();
        using var http = Client(await TokenAsync(customer, CustomerScopes));
        // A mutating call: paying a missing invoice is refused (404) - refusals are kept and replayed like successes.
        var key = "purge-" + Guid.NewGuid().ToString("N");
        using (var first = await SendAsync(http, HttpMethod.Post, "/api/v1/invoices/987654321/pay", null, key))
        {
            await ProblemAsync(first, 404);
        }

        Guid tokenId;
        await using (var db = Fixture.Database.CreateContext())
        {
            var row = await db.ApiIdempotency.SingleAsync(r => r.Key == key);
            tokenId = row.TokenId;
            // One key of the same token from eight days ago.
            db.ApiIdempotency.Add(new ApiIdempotencyRecord
            {
                TokenId = tokenId, Key = key + "-old", RequestHash = row.RequestHash, Request = row.Request, StatusCode = 200,
                CreatedAt = DateTime.UtcNow - ApiIdempotencyRecord.Retention - TimeSpan.FromDays(1),
            });
            await db.SaveChangesAsync();
        }

        var (scope, job) = Fixture.Resolve<Panel.Core.Jobs.Api.ApiIdempotencyPurgeJob>();
        await using (scope)
        {
            (await job.RunAsync(CancellationToken.None)).ShouldBeGreaterThanOrEqualTo(1);
            (await job.RunAsync(CancellationToken.None)).ShouldBe(0, "a second run finds nothing");
        }

        await using (var db = Fixture.Database.CreateContext())
        {
            (await db.ApiIdempotency.Where(r => r.TokenId == tokenId).Select(r => r.Key).ToListAsync()).ShouldBe([key]);
        }

        using var replay = await SendAsync(http, HttpMethod.Post, "/api/v1/invoices/987654321/pay", null, key);
        await ProblemAsync(replay, 404);
        replay.Headers.GetValues("Idempotent-Replayed").Single().ShouldBe("true");
    }
}
