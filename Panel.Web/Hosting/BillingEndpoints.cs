using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Hosting;

/// <summary>Billing documents served over plain HTTP (a PDF is a download, not a page).</summary>
public static class BillingEndpoints
{
    /// <summary>The PDF of an invoice: <c>/billing/invoices/ID/pdf</c>.</summary>
    public static string InvoicePdfPath(long invoiceId) => FormattableString.Invariant($"/billing/invoices/{invoiceId}/pdf");

    /// <summary>Maps <c>GET /billing/invoices/{id}/pdf</c>: signed-in users only; the invoice's owner or an admin, anyone else gets 404.</summary>
    public static void MapBillingEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/billing/invoices/{id:long}/pdf", InvoicePdfAsync).RequireAuthorization();
    }

    private static async Task<IResult> InvoicePdfAsync(long id, HttpContext http, BillingService billing, CancellationToken cancellationToken)
    {
        var actor = CurrentActor.From(http.User, http.Connection.RemoteIpAddress?.ToString());
        try
        {
            var (fileName, pdf) = await billing.InvoicePdfAsync(actor, id, cancellationToken);
            http.Response.Headers.CacheControl = "private, no-store";
            return Results.File(pdf, "application/pdf", fileName);
        }
        catch (PanelNotFoundException)
        {
            return Results.NotFound();
        }
    }
}
