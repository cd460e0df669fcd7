using Microsoft.AspNetCore.Http.HttpResults;
using Panel.Core.Domain.Api;
using Panel.Core.Services;

namespace Panel.Web.Api;

/// <summary>A customer's invoices and balance (read only).</summary>
public static class BillingApi
{
    /// <summary>Maps <c>/invoices</c> and <c>/balance</c>.</summary>
    public static IEndpointRouteBuilder MapBillingApi(this IEndpointRouteBuilder app)
    {
        var billing = app.MapGroup("").WithTags("Billing");
        billing.MapGet("/invoices", ListInvoices).RequireScope(ApiScopes.BillingRead).WithName(nameof(ListInvoices)).WithSummary("Your invoices, newest first");
        billing.MapGet("/invoices/{id:long}", GetInvoice).RequireScope(ApiScopes.BillingRead).WithName(nameof(GetInvoice)).WithSummary("One invoice with its lines")
            .ProducesProblem(StatusCodes.Status404NotFound);
        billing.MapGet("/balance", GetBalance).RequireScope(ApiScopes.BillingRead).WithName(nameof(GetBalance)).WithSummary("Your balance and what is open");
        return app;
    }

    /// <summary>The caller's invoices (an admin token: everyone's).</summary>
    public static async Task<Ok<IReadOnlyList<InvoiceView>>> ListInvoices(HttpContext http, BillingService billing, CancellationToken cancellationToken)
        => TypedResults.Ok(await billing.InvoicesAsync(http.Actor(), cancellationToken: cancellationToken));

    /// <summary>One invoice.</summary>
    public static async Task<Ok<InvoiceView>> GetInvoice(long id, HttpContext http, BillingService billing, CancellationToken cancellationToken)
        => TypedResults.Ok(await billing.InvoiceAsync(http.Actor(), id, cancellationToken));

    /// <summary>The caller's balance.</summary>
    public static async Task<Ok<BalanceView>> GetBalance(HttpContext http, BillingService billing, CancellationToken cancellationToken)
    {
        var actor = http.Actor();
        return TypedResults.Ok(await billing.BalanceAsync(actor, actor.UserId ?? Guid.Empty, cancellationToken));
    }
}
