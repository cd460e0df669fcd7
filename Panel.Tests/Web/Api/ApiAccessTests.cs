using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using Panel.Core.Domain.Api;
using Panel.Core.Domain.Billing;
using Panel.Core.Domain.Compute;
using Panel.Core.Domain.Operations;
using Panel.Core.Services;
using Panel.Tests.Infrastructure;

namespace Panel.Tests.Web.Api;

/// <summary>
/// Every route of <c>/api/v1</c>, table-driven: another customer's token never reaches a customer's data
/// (404 for their ids, 403 for admin routes, lists without it), and the OpenAPI document validates and
/// lists exactly these routes.
/// </summary>
public sealed class ApiAccessTests(PanelFixture fixture) : ApiTest(fixture)
{
    /// <summary>How a route answers another customer.</summary>
    public enum Refusal
    {
        /// <summary>404: the id is someone else's.</summary>
        NotFound,

        /// <summary>403: the route is for admin tokens.</summary>
        Forbidden,

        /// <summary>200: a list of the caller's own things, without the other's.</summary>
        OwnList,

        /// <summary>Makes something of the caller's own (no foreign id to refuse).</summary>
        OwnCreate,
    }

    /// <summary>Every route the API maps: method, OpenAPI path, expected refusal.</summary>
    public static readonly (string Method, string Path, Refusal Refusal)[] Routes =
    [
        ("GET", "/api/v1/servers", Refusal.OwnList),
        ("POST", "/api/v1/servers", Refusal.OwnCreate),
        ("GET", "/api/v1/servers/{id}", Refusal.NotFound),
        ("DELETE", "/api/v1/servers/{id}", Refusal.NotFound),
        ("POST", "/api/v1/servers/{id}/start", Refusal.NotFound),
        ("POST", "/api/v1/servers/{id}/stop", Refusal.NotFound),
        ("POST", "/api/v1/servers/{id}/reboot", Refusal.NotFound),
        ("GET", "/api/v1/servers/{id}/snapshots", Refusal.NotFound),
        ("POST", "/api/v1/servers/{id}/snapshots", Refusal.NotFound),
        ("POST", "/api/v1/servers/{id}/snapshots/{name}/restore", Refusal.NotFound),
        ("GET", "/api/v1/servers/{id}/backups", Refusal.NotFound),
        ("POST", "/api/v1/servers/{id}/backups", Refusal.NotFound),
        ("GET", "/api/v1/operations/{id}", Refusal.NotFound),
        ("GET", "/api/v1/invoices", Refusal.OwnList),
        ("GET", "/api/v1/invoices/{id}", Refusal.NotFound),
        ("POST", "/api/v1/invoices/{id}/pay", Refusal.NotFound),
        ("GET", "/api/v1/balance", Refusal.OwnList),
        ("POST", "/api/v1/provisioning/services", Refusal.Forbidden),
        ("GET", "/api/v1/provisioning/services/{serviceId}", Refusal.Forbidden),
        ("POST", "/api/v1/provisioning/services/{serviceId}/suspend", Refusal.Forbidden),
        ("POST", "/api/v1/provisioning/services/{serviceId}/unsuspend", Refusal.Forbidden),
        ("POST", "/api/v1/provisioning/services/{serviceId}/terminate", Refusal.Forbidden),
        ("POST", "/api/v1/provisioning/services/{serviceId}/change-plan", Refusal.Forbidden),
        ("GET", "/api/v1/provisioning/services/{serviceId}/usage", Refusal.Forbidden),
    ];

    [Fact]
    public async Task Every_route_refuses_a_token_of_another_customer()
    {
        // Alice's server (a failed order: rows only, no guest), snapshot, operation and invoice.
        var alice = await CustomerAsync("alice");
        var mallory = await CustomerAsync("mallory");
        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CatalogService>().SeedDefaultsAsync();
        }

        int vpsId;
        long operationId, invoiceId;
        var now = DateTime.UtcNow;
        await using (var db = Fixture.Database.CreateContext())
        {
            var plan = await db.Plans.FirstAsync();
            var image = await db.Images.FirstAsync();
            var vps = new Vps
            {
                EngineId = "v0a11ce000001", OwnerId = alice.UserId!.Value, Hostname = "alice-secret-host", PlanId = plan.Id, ImageId = image.Id,
                MacAddress = VpsService.MacFor("v0a11ce000001"), Status = VpsStatus.Stopped, ExternalServiceId = "alice-svc", CreatedAt = now, UpdatedAt = now,
            };
            db.Vpses.Add(vps);
            await db.SaveChangesAsync();
            vpsId = vps.Id;
            db.VpsSnapshots.Add(new VpsSnapshot { VpsId = vps.Id, Name = "alice-snap", CreatedAt = now });
            var op = new Operation { VpsId = vps.Id, OwnerId = vps.OwnerId, ActorName = alice.Name, Kind = OperationKind.Provision, Status = OperationStatus.Succeeded, CreatedAt = now };
            db.Operations.Add(op);
            var invoice = new Invoice
            {
                Number = "INV-2026-900001", CustomerId = vps.OwnerId, PeriodStart = now.AddMonths(-1), PeriodEnd = now, IssuedAt = now, DueAt = now.AddDays(14),
                Currency = "EUR", Total = 12.34m, Status = InvoiceStatus.Open,
            };
            db.Invoices.Add(invoice);
            await db.SaveChangesAsync();
            operationId = op.Id;
            invoiceId = invoice.Id;
        }

        using var http = Client(await TokenAsync(mallory, CustomerScopes));
        var failures = new List<string>();
        foreach (var (method, template, refusal) in Routes.Where(r => r.Refusal != Refusal.OwnCreate))
        {
            var id = template.StartsWith("/api/v1/invoices", StringComparison.Ordinal) ? invoiceId
                : template.StartsWith("/api/v1/operations", StringComparison.Ordinal) ? operationId : vpsId;
            var path = template.Replace("{id}", id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{name}", "alice-snap", StringComparison.Ordinal).Replace("{serviceId}", "alice-svc", StringComparison.Ordinal);
            object? body = template.EndsWith("/snapshots", StringComparison.Ordinal) && method == "POST" ? new { name = "mine-now" }
                : template.EndsWith("/change-plan", StringComparison.Ordinal) ? new { planId = 1 }
                : template == "/api/v1/provisioning/services" ? new { serviceId = "m-1", customerId = mallory.UserId, planId = 1, imageId = 1, hostname = "m" }
                : null;
            using var response = await SendAsync(http, new HttpMethod(method), path, body);
            var text = await response.Content.ReadAsStringAsync();
            var expected = refusal switch { Refusal.NotFound => HttpStatusCode.NotFound, Refusal.Forbidden => HttpStatusCode.Forbidden, _ => HttpStatusCode.OK };
            if (response.StatusCode != expected)
            {
                failures.Add($"{method} {path}: {(int)response.StatusCode} (expected {(int)expected}) {text}");
            }
            else if (refusal != Refusal.OwnList && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                failures.Add($"{method} {path}: not problem+json");
            }
            else if (text.Contains("alice", StringComparison.OrdinalIgnoreCase) || text.Contains("INV-2026-900001", StringComparison.Ordinal) || text.Contains(alice.UserId.ToString()!, StringComparison.Ordinal))
            {
                failures.Add($"{method} {path}: shows Alice's data: {text}");
            }
        }

        failures.ShouldBeEmpty();
        await using var check = Fixture.Database.CreateContext();
        var after = await check.Vpses.SingleAsync(v => v.Id == vpsId);
        after.Status.ShouldBe(VpsStatus.Stopped);
        after.BusyOperationId.ShouldBeNull();
        (await check.Operations.CountAsync(o => o.VpsId == vpsId)).ShouldBe(1);
        (await check.VpsSnapshots.CountAsync()).ShouldBe(1);
        (await check.Vpses.CountAsync()).ShouldBe(1);
    }

    [Fact]
    public async Task The_openapi_document_validates_and_lists_every_route_with_the_bearer_scheme()
    {
        using var http = Client(null);
        using var response = await http.GetAsync(new Uri("/api/v1/openapi.json", UriKind.Relative));
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var settings = new OpenApiReaderSettings();
        var read = await OpenApiDocument.LoadAsync(stream, OpenApiConstants.Json, settings);
        read.Diagnostic.ShouldNotBeNull();
        read.Diagnostic.Errors.ShouldBeEmpty(string.Join("\n", read.Diagnostic.Errors.Select(e => $"{e.Pointer}: {e.Message}")));
        var document = read.Document.ShouldNotBeNull();
        document.Validate(Microsoft.OpenApi.ValidationRuleSet.GetDefaultRuleSet()).ShouldBeEmpty();

        var listed = document.Paths.SelectMany(p => p.Value.Operations!.Select(o => $"{o.Key.Method.ToUpperInvariant()} {p.Key}")).Order().ToList();
        listed.ShouldBe(Routes.Select(r => $"{r.Method} {r.Path}").Order().ToList());
        document.Components!.SecuritySchemes!["bearer"].Scheme.ShouldBe("bearer");
        document.Security!.ShouldHaveSingleItem();
        foreach (var (path, item) in document.Paths)
        {
            foreach (var (method, operation) in item.Operations!)
            {
                var needsKey = method != HttpMethod.Get;
                (operation.Parameters?.Any(p => p.Name == "Idempotency-Key" && p.In == ParameterLocation.Header && p.Required) ?? false).ShouldBe(needsKey, $"{method} {path}");
                operation.Description.ShouldNotBeNull().ShouldContain("scope");
            }
        }
    }
}
