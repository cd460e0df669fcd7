using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Api;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Api;

/// <summary>
/// An external billing system drives a real container through the provisioning module: created once
/// for two concurrent calls and a replay with one Idempotency-Key, running, suspended (its owner cannot
/// start it), unsuspended, its usage read, terminated.
/// </summary>
public sealed class ApiProvisioningTests(PanelFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task A_billing_system_creates_suspends_unsuspends_and_terminates_a_container_once_per_key()
    {
        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
        }

        await Fixture.WaitForNodeAsync();
        int planId, imageId;
        await using (var db = Fixture.Database.CreateContext())
        {
            planId = await db.Plans.Where(p => p.Name == "Container S").Select(p => p.Id).SingleAsync();
            imageId = await db.Images.Where(i => i.Name == "busybox").Select(i => i.Id).SingleAsync();
        }

        var customer = await CustomerAsync();
        using var billing = Client(await TokenAsync(await AdminAsync(), [ApiScopes.Provisioning], ApiTokenKind.Admin));
        using var owner = Client(await TokenAsync(customer, CustomerScopes));
        var order = new { serviceId = "whmcs-1001", customerId = customer.UserId, planId, imageId, hostname = "api-one" };

        // Two calls at once and a replay, one key: one server, one provisioning operation, one answer.
        var answers = await Task.WhenAll(
            SendAsync(billing, HttpMethod.Post, "/api/v1/provisioning/services", order, "order-1001"),
            SendAsync(billing, HttpMethod.Post, "/api/v1/provisioning/services", order, "order-1001"));
        var replay = await SendAsync(billing, HttpMethod.Post, "/api/v1/provisioning/services", order, "order-1001");
        var bodies = new List<string>();
        foreach (var answer in answers.Append(replay))
        {
            bodies.Add(await answer.Content.ReadAsStringAsync());
            answer.StatusCode.ShouldBe(HttpStatusCode.Created, bodies[^1]);
            answer.Headers.Location!.OriginalString.ShouldBe("/api/v1/provisioning/services/whmcs-1001");
        }

        bodies.Distinct().ShouldHaveSingleItem();
        replay.Headers.GetValues("Idempotent-Replayed").Single().ShouldBe("true");
        answers.Count(a => a.Headers.Contains("Idempotent-Replayed")).ShouldBe(1);
        var accepted = JsonSerializer.Deserialize<JsonElement>(bodies[0]);
        var serverId = accepted.GetProperty("serverId").GetInt32();
        accepted.GetProperty("serviceId").GetString().ShouldBe("whmcs-1001");

        // The key with another body is refused; another key for the same service id conflicts.
        await ProblemAsync(await SendAsync(billing, HttpMethod.Post, "/api/v1/provisioning/services", order with { hostname = "api-two" }, "order-1001"), 422);
        (await ProblemAsync(await SendAsync(billing, HttpMethod.Post, "/api/v1/provisioning/services", order, "order-1001-b"), 409))
            .GetProperty("detail").GetString()!.ShouldContain("whmcs-1001 exists");
        await using (var db = Fixture.Database.CreateContext())
        {
            (await db.Vpses.CountAsync()).ShouldBe(1);
            (await db.Operations.CountAsync(o => o.VpsId == serverId && o.Kind == OperationKind.Provision)).ShouldBe(1);
            (await db.ApiIdempotency.CountAsync()).ShouldBe(2);
        }

        // It runs, and its owner sees it.
        await WaitForStatusAsync(billing, "Running");
        var mine = await owner.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/servers", UriKind.Relative));
        mine.EnumerateArray().Single().GetProperty("externalServiceId").GetString().ShouldBe("whmcs-1001");

        // Suspended: it stops and its owner cannot start it; unsuspended: it runs again.
        var suspend = await SendAsync(billing, HttpMethod.Post, "/api/v1/provisioning/services/whmcs-1001/suspend", new { reason = "invoice overdue" });
        suspend.StatusCode.ShouldBe(HttpStatusCode.Accepted, await suspend.Content.ReadAsStringAsync());
        suspend.Headers.Location!.OriginalString.ShouldStartWith("/api/v1/operations/");
        await WaitForStatusAsync(billing, "Suspended");
        (await ProblemAsync(await SendAsync(owner, HttpMethod.Post, $"/api/v1/servers/{serverId}/start"), 409))
            .GetProperty("detail").GetString()!.ShouldContain("invoice overdue");
        (await SendAsync(billing, HttpMethod.Post, "/api/v1/provisioning/services/whmcs-1001/unsuspend")).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await WaitForStatusAsync(billing, "Running");

        var usage = await billing.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/provisioning/services/whmcs-1001/usage", UriKind.Relative));
        usage.GetProperty("vpsId").GetInt32().ShouldBe(serverId);
        usage.GetProperty("hours").GetInt32().ShouldBeGreaterThanOrEqualTo(0);
        usage.GetProperty("periodEnd").GetDateTime().ShouldBeGreaterThan(DateTime.UtcNow);

        // Terminated: the container goes; the service id still names the deleted server.
        (await SendAsync(billing, HttpMethod.Post, "/api/v1/provisioning/services/whmcs-1001/terminate")).StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await WaitForStatusAsync(billing, "Deleted");
        (await owner.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/servers", UriKind.Relative))).GetArrayLength().ShouldBe(0);
    }

    private async Task WaitForStatusAsync(HttpClient billing, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string? last = null;
        while (DateTime.UtcNow < deadline)
        {
            var server = await billing.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/provisioning/services/whmcs-1001", UriKind.Relative));
            last = server.GetRawText();
            if (server.GetProperty("status").GetString() == status && server.GetProperty("busyOperationId").ValueKind == JsonValueKind.Null)
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"the service did not become {status}: {last}\n{string.Join("\n", Fixture.App.Output.Split('\n').TakeLast(40))}");
    }
}
