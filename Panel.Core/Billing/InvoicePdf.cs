using System.Globalization;
using PdfSharp.Drawing;
using PdfSharp.Fonts;
using PdfSharp.Pdf;
using Panel.Core.Services;

namespace Panel.Core.Billing;

/// <summary>
/// Renders an invoice as an A4 PDF with PDFsharp (MIT): seller and customer blocks, number and dates,
/// the lines, net, tax and gross, the reverse-charge note and credit notes. Fonts are DejaVu Sans from
/// Debian's fonts-dejavu-core (<see cref="DejaVuFontResolver"/>): PDFsharp finds no system fonts on Linux.
/// </summary>
public static class InvoicePdf
{
    private const double Left = 50, Right = 545, Width = Right - Left;
    private static readonly Lock InitLock = new();
    private static bool initialized;

    /// <summary>The PDF bytes of <paramref name="invoice"/>.</summary>
    public static byte[] Render(InvoiceView invoice, SellerDetails seller, IReadOnlyList<CreditNoteView> creditNotes)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        ArgumentNullException.ThrowIfNull(seller);
        ArgumentNullException.ThrowIfNull(creditNotes);
        EnsureFonts();
        using var document = new PdfDocument();
        document.Info.Title = "Invoice " + invoice.Number;
        document.Info.Author = seller.Name ?? "VpsPanel";
        var regular = new XFont(DejaVuFontResolver.Family, 9.5, XFontStyleEx.Regular);
        var bold = new XFont(DejaVuFontResolver.Family, 9.5, XFontStyleEx.Bold);
        var title = new XFont(DejaVuFontResolver.Family, 20, XFontStyleEx.Bold);
        var small = new XFont(DejaVuFontResolver.Family, 8, XFontStyleEx.Regular);
        var grey = new XSolidBrush(XColor.FromArgb(90, 90, 90));
        var rule = new XPen(XColor.FromArgb(200, 200, 200), 0.6);

        var page = document.AddPage();
        page.Size = PdfSharp.PageSize.A4;
        var gfx = XGraphics.FromPdfPage(page);
        try
        {
            string Money(decimal amount) => amount.ToString("#,##0.00", CultureInfo.InvariantCulture) + " " + invoice.Currency;
            static string Date(DateTime d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

            // Seller (top left), title and facts (top right).
            var y = 50.0;
            gfx.DrawString(seller.Name ?? "VpsPanel", bold, XBrushes.Black, Left, y);
            var sy = y + 13;
            foreach (var line in Lines(seller.Address).Append(seller.Country).Append(seller.VatNumber is null ? null : "VAT " + seller.VatNumber).OfType<string>())
            {
                gfx.DrawString(line, small, grey, Left, sy);
                sy += 11;
            }

            gfx.DrawString("INVOICE", title, XBrushes.Black, new XRect(Left, y - 16, Width, 24), XStringFormats.TopRight);
            var facts = new (string, string)[]
            {
                ("Number", invoice.Number), ("Issued", Date(invoice.IssuedAt)), ("Due", Date(invoice.DueAt)),
                ("Period", $"{Date(invoice.PeriodStart)} to {Date(invoice.PeriodEnd.AddDays(-1))}"), ("Status", invoice.Status.ToString()),
            };
            var fy = y + 22;
            foreach (var (label, value) in facts)
            {
                gfx.DrawString(label, small, grey, new XRect(Right - 210, fy, 70, 12), XStringFormats.TopLeft);
                gfx.DrawString(value, regular, XBrushes.Black, new XRect(Right - 140, fy, 140, 12), XStringFormats.TopRight);
                fy += 13;
            }

            // Bill to.
            y = Math.Max(sy, fy) + 20;
            gfx.DrawString("Bill to", small, grey, Left, y);
            y += 13;
            foreach (var line in Lines(invoice.BillTo))
            {
                gfx.DrawString(line, regular, XBrushes.Black, Left, y);
                y += 12;
            }

            // Lines.
            y += 18;
            double colQty = Right - 190, colPrice = Right - 110;
            gfx.DrawString("Description", bold, XBrushes.Black, Left, y);
            gfx.DrawString("Quantity", bold, XBrushes.Black, new XRect(colQty - 60, y - 9, 60, 12), XStringFormats.TopRight);
            gfx.DrawString("Unit price", bold, XBrushes.Black, new XRect(colPrice - 70, y - 9, 70, 12), XStringFormats.TopRight);
            gfx.DrawString("Amount", bold, XBrushes.Black, new XRect(Right - 90, y - 9, 90, 12), XStringFormats.TopRight);
            y += 5;
            gfx.DrawLine(rule, Left, y, Right, y);
            y += 13;
            foreach (var line in invoice.Lines)
            {
                if (y > 740)
                {
                    gfx.Dispose();
                    page = document.AddPage();
                    page.Size = PdfSharp.PageSize.A4;
                    gfx = XGraphics.FromPdfPage(page);
                    y = 60;
                }

                var wrapped = Wrap(gfx, line.Description, regular, colQty - 70 - Left);
                gfx.DrawString(line.Quantity.ToString("0.####", CultureInfo.InvariantCulture), regular, XBrushes.Black, new XRect(colQty - 60, y - 9, 60, 12), XStringFormats.TopRight);
                if (line.UnitPrice is { } unit)
                {
                    gfx.DrawString(unit.ToString("0.00##", CultureInfo.InvariantCulture), regular, XBrushes.Black, new XRect(colPrice - 70, y - 9, 70, 12), XStringFormats.TopRight);
                }

                gfx.DrawString(Money(line.Amount), regular, XBrushes.Black, new XRect(Right - 90, y - 9, 90, 12), XStringFormats.TopRight);
                foreach (var part in wrapped)
                {
                    gfx.DrawString(part, regular, XBrushes.Black, Left, y);
                    y += 12;
                }

                y += 3;
            }

            // Totals.
            gfx.DrawLine(rule, Right - 230, y, Right, y);
            y += 14;
            void Total(string label, string value, XFont font)
            {
                gfx.DrawString(label, font, XBrushes.Black, new XRect(Right - 230, y - 9, 130, 12), XStringFormats.TopLeft);
                gfx.DrawString(value, font, XBrushes.Black, new XRect(Right - 100, y - 9, 100, 12), XStringFormats.TopRight);
                y += 14;
            }

            Total("Net", Money(invoice.Net), regular);
            Total(string.Create(CultureInfo.InvariantCulture, $"{invoice.TaxLabel} {invoice.TaxRatePercent:0.##} %"), Money(invoice.TaxAmount), regular);
            Total("Total", Money(invoice.Total), bold);
            if (invoice.Credited > 0)
            {
                Total("Credited", Money(-invoice.Credited), regular);
            }

            if (invoice.TaxNote is { } note)
            {
                y += 8;
                gfx.DrawString(note + ": VAT to be accounted for by the recipient.", bold, XBrushes.Black, Left, y);
                y += 14;
            }

            foreach (var cn in creditNotes)
            {
                gfx.DrawString(string.Create(CultureInfo.InvariantCulture, $"Credit note {cn.Number} of {Date(cn.IssuedAt)}: {Money(cn.Amount)} ({cn.Reason})"), small, grey, Left, y);
                y += 11;
            }

            y += 10;
            gfx.DrawString(invoice.Status == Domain.Billing.InvoiceStatus.Paid
                ? string.Create(CultureInfo.InvariantCulture, $"Paid on {Date(invoice.PaidAt ?? invoice.IssuedAt)}. Thank you.")
                : $"Please pay by {Date(invoice.DueAt)}, quoting {invoice.Number}.", regular, XBrushes.Black, Left, y);
            gfx.DrawString("All amounts in " + invoice.Currency + "; rounded to the cent, half away from zero.", small, grey, Left, 800);
        }
        finally
        {
            gfx.Dispose();
        }

        using var stream = new MemoryStream();
        document.Save(stream, false);
        return stream.ToArray();
    }

    private static string[] Lines(string? text)
        => (text ?? "").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Splits <paramref name="text"/> at spaces so each part fits <paramref name="width"/>.</summary>
    private static List<string> Wrap(XGraphics gfx, string text, XFont font, double width)
    {
        var parts = new List<string>();
        var current = "";
        foreach (var word in text.Split(' '))
        {
            var next = current.Length == 0 ? word : current + " " + word;
            if (current.Length > 0 && gfx.MeasureString(next, font).Width > width)
            {
                parts.Add(current);
                current = word;
            }
            else
            {
                current = next;
            }
        }

        parts.Add(current);
        return parts;
    }

    private static void EnsureFonts()
    {
        lock (InitLock)
        {
            if (!initialized)
            {
                GlobalFontSettings.FontResolver ??= new DejaVuFontResolver();
                initialized = true;
            }
        }
    }
}

/// <summary>DejaVu Sans (regular and bold) from <c>/usr/share/fonts/truetype/dejavu</c> (Debian's fonts-dejavu-core, which <c>./panel</c> installs).</summary>
public sealed class DejaVuFontResolver : IFontResolver
{
    /// <summary>The family name invoices use.</summary>
    public const string Family = "DejaVu Sans";

    private const string Folder = "/usr/share/fonts/truetype/dejavu";

    /// <inheritdoc />
    public FontResolverInfo? ResolveTypeface(string familyName, bool bold, bool italic)
        => new(bold ? "DejaVuSans-Bold" : "DejaVuSans");

    /// <inheritdoc />
    public byte[]? GetFont(string faceName)
    {
        var path = Path.Combine(Folder, faceName + ".ttf");
        return File.Exists(path)
            ? File.ReadAllBytes(path)
            : throw new FileNotFoundException($"The invoice font {path} is missing: install Debian's fonts-dejavu-core (./panel up does).", path);
    }
}
