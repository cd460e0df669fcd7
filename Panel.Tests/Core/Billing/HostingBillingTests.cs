using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>Hosting plans are billed like VPS plans, through the tenant's container and its compute plan.</summary>
public sealed class HostingBillingTests(BillingFixture fixture) : BillingTest(fixture)
{
    [Fact]
    public async Task A_hosting_tenant_pays_the_plans_monthly_price_for_a_full_month_and_the_started_hours_for_part_of_one()
    {
        var planId = await WithAsync<HostingService, int>(h => h.CreatePlanAsync(Admin,
            new HostingPlanRequest("Web " + Guid.NewGuid().ToString("N")[..6], 5, 1L << 30, 10L << 30, 1, 256L << 20, 6.72m), Ct));
        int computePlanId;
        await using (var db = Db())
        {
            computePlanId = await db.HostingPlans.Where(p => p.Id == planId).Select(p => p.ComputePlanId).SingleAsync(Ct);
            var compute = await db.Plans.SingleAsync(p => p.Id == computePlanId, Ct);
            (compute.MonthlyPrice, compute.HourlyPrice).ShouldBe((6.72m, 0.0100m)); // the cap after 672 hours
        }

        // Two tenants' containers (as HostingService provisions them): one all January, one for its last 10 hours.
        var whole = await CustomerAsync(Utc(2026, 1, 1));
        var brief = await CustomerAsync(Utc(2026, 1, 1));
        await VpsAsync(whole, computePlanId, Utc(2026, 1, 1));
        await VpsAsync(brief, computePlanId, Utc(2026, 1, 31, 14));
        Clock.Set(Utc(2026, 2, 1, 0, 30));
        await InvoiceAsync();

        await using var check = Db();
        (await check.Invoices.Where(i => i.CustomerId == whole).Select(i => i.Net).SingleAsync(Ct)).ShouldBe(6.72m, "744 hours, capped at the monthly price");
        (await check.Invoices.Where(i => i.CustomerId == brief).Select(i => i.Net).SingleAsync(Ct)).ShouldBe(0.10m, "10 started hours at 0.01");
    }
}
