using Microsoft.AspNetCore.Http.HttpResults;
using Panel.Core.Domain.Api;
using Panel.Core.Services;

namespace Panel.Web.Api;

/// <summary>A customer's invoices and balance, and paying an invoice (by card through the gateway, or from credit).</summary>
public static class BillingApi
{
    /// <summary>Maps <c>/invoices</c> and <c>/balance</c>.</summary>
    public static IEndpointRouteBuilder MapBillingApi(this IEndpointRouteBuilder app)
    {
        var billing = app.MapGroup("").WithTags("Billing");
        billing.MapGet("/invoices", ListInvoices).RequireScope(ApiScopes.BillingRead).WithName(nameof(ListInvoices)).WithSummary("Your invoices, newest first");
        billing.MapGet("/invoices/{id:long}", GetInvoice).RequireScope(ApiScopes.BillingRead).WithName(nameof(GetInvoice)).WithSummary("One invoice with its lines")
            .ProducesProblem(StatusCodes.Status404NotFound);
        billing.MapPost("/invoices/{id:long}/pay", PayInvoice).RequireScope(ApiScopes.BillingWrite).WithName(nameof(PayInvoice))
            .WithSummary("Pay an open invoice: by card through the payment gateway (the default), or from credit (?from=credit)")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        billing.MapGet("/balance", GetBalance).RequireScope(ApiScopes.BillingRead).WithName(nameof(GetBalance)).WithSummary("Your balance and what is open");
        return app;
    }

    /// <summary>The caller's invoices (an admin token: everyone's).</summary>
    public static async Task<Ok<IReadOnlyList<InvoiceView>>> ListInvoices(HttpContext http, BillingService billing, CancellationToken cancellationToken)
        => TypedResults.Ok(await billing.InvoicesAsync(http.Actor(), cancellationToken: cancellationToken));

    /// <summary>One invoice.</summary>
    public static async Task<Ok<InvoiceView>> GetInvoice(long id, HttpContext http, BillingService billing, CancellationToken cancellationToken)
        => TypedResults.Ok(await billing.InvoiceAsync(http.Actor(), id, cancellationToken));

    /// <summary>Pays an invoice; the answer says whether it is paid, declined, or pending (the gateway's outcome comes later).</summary>
    public static async Task<Ok<InvoicePaymentResult>> PayInvoice(long id, HttpContext http, PaymentService payments, BillingService billing, string? from, CancellationToken cancellationToken)
    {
        var actor = http.Actor();
        if (string.Equals(from, "credit", StringComparison.OrdinalIgnoreCase))
        {
            var paid = await billing.PayFromCreditAsync(actor, id, cancellationToken);
            return TypedResults.Ok(new InvoicePaymentResult(id, paid.InvoicePaid ? "paid" : "open", null));
        }

        if (from is not null && !string.Equals(from, "gateway", StringComparison.OrdinalIgnoreCase))
        {
            throw new PanelRefusedException("Pay from \"gateway\" (the default) or \"credit\".", "from");
        }

        var attempt = await payments.PayAsync(actor, id, cancellationToken);
        return TypedResults.Ok(new InvoicePaymentResult(id, attempt.Status switch
        {
            Panel.Core.Domain.Billing.PaymentAttemptStatus.Succeeded => "paid",
            Panel.Core.Domain.Billing.PaymentAttemptStatus.Declined => "declined",
            _ => "pending",
        }, attempt));
    }

    /// <summary>The caller's balance.</summary>
    public static async Task<Ok<BalanceView>> GetBalance(HttpContext http, BillingService billing, CancellationToken cancellationToken)
    {
        var actor = http.Actor();
        return TypedResults.Ok(await billing.BalanceAsync(actor, actor.UserId ?? Guid.Empty, cancellationToken));
    }
}

/// <summary>The answer to paying an invoice.</summary>
/// <param name="InvoiceId">The invoice.</param>
/// <param name="Outcome"><c>paid</c>, <c>open</c> (credit did not cover it), <c>declined</c> or <c>pending</c>.</param>
/// <param name="Attempt">The gateway charge, when it went through the gateway.</param>
public sealed record InvoicePaymentResult(long InvoiceId, string Outcome, PaymentAttemptView? Attempt);
