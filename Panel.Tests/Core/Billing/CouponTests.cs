using Microsoft.EntityFrameworkCore;
using Panel.Core.Domain.Billing;
using Panel.Core.Services;

namespace Panel.Tests.Core.Billing;

/// <summary>Coupons: created by admins, redeemed once by customers, taken off the next invoice before tax; refusals change nothing.</summary>
public sealed class CouponTests(BillingFixture fixture) : BillingTest(fixture)
{
    [Fact]
    public async Task A_redeemed_coupon_takes_its_discount_off_the_next_invoice_before_tax_and_only_that_one()
    {
        await WithAsync<TaxService, TaxRateView>(t => t.SetRateAsync(Admin, "DE", 19m, null, Ct));
        await WithAsync<TaxService, bool>(async t => { await t.SetSellerAsync(Admin, new SellerDetails("DE", "Hosting GmbH", null, null), Ct); return true; });
        Clock.Set(Utc(2026, 1, 1));
        await WithAsync<CouponService, CouponView>(c => c.CreateAsync(Admin, new CouponDraft("welcome-15", CouponKind.Percent, 15m, Utc(2026, 1, 1), Utc(2026, 3, 1), 10), Ct));
        await WithAsync<CouponService, CouponView>(c => c.CreateAsync(Admin, new CouponDraft("BIG", CouponKind.FixedAmount, 500m), Ct));
        var (customer, invoiceId) = await IssuedInvoiceAsync(10.10m, before: async c =>
        {
            var redeemed = await WithAsync<CouponService, RedemptionView>(s => s.RedeemAsync(new Actor(c, "c@example.com", false), " Welcome-15 ", Ct));
            redeemed.Code.ShouldBe("WELCOME-15");
            redeemed.InvoiceId.ShouldBeNull();
        });

        var invoice = await WithAsync<BillingService, InvoiceView>(b => b.InvoiceAsync(Admin, invoiceId, Ct));
        invoice.Lines.Select(l => (l.Kind, l.Amount)).ShouldBe([(InvoiceLineKind.Hours, 10.10m), (InvoiceLineKind.Discount, -1.52m)]); // 1.515 → 1.52
        invoice.Lines[1].Description.ShouldContain("WELCOME-15");
        (invoice.Net, invoice.TaxAmount, invoice.Total).ShouldBe((8.58m, 1.63m, 10.21m)); // 8.58 × 19 % = 1.6302
        var self = new Actor(customer, "c@example.com", false);
        (await WithAsync<CouponService, IReadOnlyList<RedemptionView>>(c => c.RedemptionsAsync(self, customer, Ct))).Single().InvoiceId.ShouldBe(invoiceId);

        // The next month's invoice has no discount; a fixed coupon larger than the net takes it to 0, never below.
        Clock.Set(Utc(2026, 2, 10));
        await WithAsync<CouponService, RedemptionView>(c => c.RedeemAsync(self, "BIG", Ct));
        Clock.Set(Utc(2026, 3, 1, 0, 30));
        await InvoiceAsync();
        var march = (await WithAsync<BillingService, IReadOnlyList<InvoiceView>>(b => b.InvoicesAsync(self, null, Ct))).OrderBy(i => i.PeriodStart).Last();
        march.Lines.Select(l => (l.Kind, l.Amount)).ShouldBe([(InvoiceLineKind.Hours, 10.10m), (InvoiceLineKind.Discount, -10.10m)]);
        (march.Net, march.TaxAmount, march.Total).ShouldBe((0m, 0m, 0m));
        march.Status.ShouldBe(InvoiceStatus.Open); // behind January's open invoice: settled oldest first, never skipping
        Clock.Set(Utc(2026, 4, 1, 0, 30));
        await InvoiceAsync();
        var april = (await WithAsync<BillingService, IReadOnlyList<InvoiceView>>(b => b.InvoicesAsync(self, null, Ct))).OrderBy(i => i.PeriodStart).Last();
        april.Lines.ShouldAllBe(l => l.Kind != InvoiceLineKind.Discount);
        april.Total.ShouldBe(12.02m); // 10.10 + 19 % (1.919 → 1.92)
    }

    [Fact]
    public async Task Unknown_early_expired_used_up_and_repeated_coupons_are_refused_with_a_reason_and_change_nothing()
    {
        Clock.Set(Utc(2026, 5, 1));
        await WithAsync<CouponService, CouponView>(c => c.CreateAsync(Admin, new CouponDraft("OLD", CouponKind.Percent, 10m, Utc(2026, 1, 1), Utc(2026, 2, 1)), Ct));
        await WithAsync<CouponService, CouponView>(c => c.CreateAsync(Admin, new CouponDraft("SOON", CouponKind.Percent, 10m, Utc(2026, 6, 1)), Ct));
        await WithAsync<CouponService, CouponView>(c => c.CreateAsync(Admin, new CouponDraft("ONCE", CouponKind.FixedAmount, 5m, MaxRedemptions: 1), Ct));
        await WithAsync<CouponService, CouponView>(c => c.CreateAsync(Admin, new CouponDraft("TWICE", CouponKind.FixedAmount, 5m, MaxRedemptions: 2), Ct));
        var first = new Actor(await CustomerAsync(Utc(2026, 1, 1)), "first@example.com", false);
        var second = new Actor(await CustomerAsync(Utc(2026, 1, 1)), "second@example.com", false);
        await WithAsync<CouponService, RedemptionView>(c => c.RedeemAsync(first, "ONCE", Ct));
        var before = await BillingStateAsync();

        async Task<string> Refused(Actor who, string code)
        {
            var ex = await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<CouponService, RedemptionView>(c => c.RedeemAsync(who, code, Ct)));
            ex.Field.ShouldBe("Code");
            return ex.Message;
        }

        (await Refused(second, "NOPE")).ShouldContain("no coupon");
        (await Refused(second, "OLD")).ShouldContain("expired");
        (await Refused(second, "SOON")).ShouldContain("valid from");
        (await Refused(second, "ONCE")).ShouldContain("used up");
        (await Refused(first, "TWICE")).ShouldContain("waits for your next invoice");
        (await BillingStateAsync()).ShouldBe(before);

        // Bad coupons are not created.
        async Task<PanelRefusedException> Create(CouponDraft d) => await Should.ThrowAsync<PanelRefusedException>(() => WithAsync<CouponService, CouponView>(c => c.CreateAsync(Admin, d, Ct)));
        (await Create(new CouponDraft("X", CouponKind.Percent, 10m))).Field.ShouldBe("Code");
        (await Create(new CouponDraft("ONCE", CouponKind.Percent, 10m))).Field.ShouldBe("Code"); // exists
        (await Create(new CouponDraft("PCT", CouponKind.Percent, 100.5m))).Field.ShouldBe("Value");
        (await Create(new CouponDraft("PCT", CouponKind.Percent, 0m))).Field.ShouldBe("Value");
        (await Create(new CouponDraft("AMT", CouponKind.FixedAmount, 1.005m))).Field.ShouldBe("Value");
        (await Create(new CouponDraft("AMT", CouponKind.FixedAmount, 5m, Utc(2026, 6, 1), Utc(2026, 5, 1)))).Field.ShouldBe("ValidUntil");
        (await Create(new CouponDraft("AMT", CouponKind.FixedAmount, 5m, MaxRedemptions: 0))).Field.ShouldBe("MaxRedemptions");
        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<CouponService, CouponView>(c => c.CreateAsync(first, new CouponDraft("MINE", CouponKind.Percent, 100m), Ct)));
        await Should.ThrowAsync<UnauthorizedAccessException>(() => WithAsync<CouponService, (int, IReadOnlyList<CouponView>)>(c => c.ListAsync(first, 0, 25, Ct)));
        await Should.ThrowAsync<PanelNotFoundException>(() => WithAsync<CouponService, IReadOnlyList<RedemptionView>>(c => c.RedemptionsAsync(second, first.UserId!.Value, Ct)));
        (await BillingStateAsync()).ShouldBe(before);

        // Concurrent redemptions never exceed the limit.
        var racers = new List<Actor>();
        for (var i = 0; i < 6; i++)
        {
            racers.Add(new Actor(await CustomerAsync(Utc(2026, 1, 1)), $"r{i}@example.com", false));
        }

        var results = await Task.WhenAll(racers.Select(r => Task.Run(async () =>
        {
            try
            {
                await WithAsync<CouponService, RedemptionView>(c => c.RedeemAsync(r, "TWICE", Ct));
                return true;
            }
            catch (PanelRefusedException)
            {
                return false;
            }
        }, Ct)));
        results.Count(ok => ok).ShouldBe(2);
        await using var db = Db();
        (await db.Coupons.SingleAsync(c => c.Code == "TWICE", Ct)).Redemptions.ShouldBe(2);
    }
}
