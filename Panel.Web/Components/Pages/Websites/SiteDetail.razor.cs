using System.Globalization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using MudBlazor;
using Panel.Core.Domain.Hosting;
using Panel.Core.Hosting;
using Panel.Core.Services;
using Panel.Web.Components.Account;
using Panel.Web.Components.Shared;

namespace Panel.Web.Components.Pages.Websites;

/// <summary>One website: status, names, content upload, the bandwidth graph and the recent requests (its owner and admins only).</summary>
public sealed partial class SiteDetail : IAsyncDisposable
{
    /// <summary>The largest zip the page takes.</summary>
    private const long MaxZipBytes = 256L << 20;

    private readonly CancellationTokenSource stop = new();
    private Actor actor = Actor.Anonymous();
    private SiteView? site;
    private IReadOnlyList<SiteRequest> log = [];
    private IReadOnlyList<SiteTrafficPoint> traffic = [];
    private List<ChartSeries<double>> series = [];
    private string[] labels = [];
    private string? alias;
    private string? aliasError;
    private string? uploadError;
    private bool uploading;
    private bool switching;
    private bool notFound;
    private bool started;
    private string folder = "";
    private IReadOnlyList<SiteFileEntry>? entries;
    private string? filesError;
    private string? renaming;
    private string? newName;
    private string? command;
    private string? commandError;
    private bool savingCommand;
    private string? serverLog;

    /// <summary>The site's id (from the address).</summary>
    [Parameter]
    public int Id { get; set; }

    [Inject]
    private HostingService Hosting { get; set; } = default!;

    [Inject]
    private CurrentActor CurrentActor { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    /// <inheritdoc />
    protected override async Task OnParametersSetAsync()
    {
        actor = await CurrentActor.GetAsync();
        await LoadAsync(CancellationToken.None);
        if (RendererInfo.IsInteractive && !notFound && !started)
        {
            started = true;
            _ = RefreshAsync();
        }
    }

    private async Task RefreshAsync() =>
        await LiveRefresh.RunAsync(TimeSpan.FromSeconds(2), LoadAsync, () => InvokeAsync(StateHasChanged), stop.Token);

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var previousCommand = site?.Command;
            site = await Hosting.GetAsync(actor, Id, cancellationToken);
            if (command is null || command == previousCommand)
            {
                // The field follows the saved command until the user edits it.
                command = site.Command;
            }

            log = await Hosting.AccessLogAsync(actor, Id, 100, cancellationToken);
            traffic = await Hosting.BandwidthAsync(actor, Id, 48, cancellationToken);
            series =
            [
                new ChartSeries<double> { Name = "out", Data = new ChartData<double>(traffic.Select(t => Math.Round(t.ResponseBytes / 1024.0, 1)).ToArray()) },
                new ChartSeries<double> { Name = "in", Data = new ChartData<double>(traffic.Select(t => Math.Round(t.RequestBytes / 1024.0, 1)).ToArray()) },
            ];
            labels = traffic.Select((t, i) => i % 6 == 0 ? t.Hour.ToString("HH:mm", CultureInfo.InvariantCulture) : "").ToArray();
        }
        catch (PanelNotFoundException)
        {
            notFound = true;
            site = null;
        }
    }

    private async Task SaveCommandAsync()
    {
        savingCommand = true;
        commandError = null;
        try
        {
            site = await Hosting.SetCommandAsync(actor, Id, command ?? "");
            command = site.Command;
            Snackbar.Add("Saved; the server restarted with the new command", Severity.Success);
            await LoadServerLogAsync();
        }
        catch (PanelRefusedException ex)
        {
            commandError = ex.Message;
        }
        finally
        {
            savingCommand = false;
        }
    }

    private async Task LoadServerLogAsync()
    {
        try
        {
            serverLog = await Hosting.ServerLogAsync(actor, Id);
        }
        catch (PanelRefusedException ex)
        {
            serverLog = ex.Message;
        }
    }

    private static string SourceText(CertificateSource source)
        => source == CertificateSource.Acme ? "Let's Encrypt (ACME)" : "The panel's own CA";

    private static string IssuerText(SiteView view) => view.CertificateIssuedBy switch
    {
        null => "-",
        CertificateSource.Acme => $"Let's Encrypt (ACME): {CommonName(view.CertificateIssuer)}",
        _ => $"The panel's own CA ({CommonName(view.CertificateIssuer)})",
    };

    /// <summary>The CN of a distinguished name (the whole name when it has none).</summary>
    private static string CommonName(string? dn)
    {
        var cn = (dn ?? "").Split(',').Select(p => p.Trim()).FirstOrDefault(p => p.StartsWith("CN=", StringComparison.OrdinalIgnoreCase));
        return cn is null ? dn ?? "" : cn[3..];
    }

    private async Task SetSourceAsync(CertificateSource source)
    {
        switching = true;
        try
        {
            site = await Hosting.SetCertificateSourceAsync(actor, Id, source);
            Snackbar.Add(source == CertificateSource.Acme ? "Ordering a certificate from Let's Encrypt" : "The site uses the panel's certificate", Severity.Success);
        }
        catch (PanelRefusedException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
        finally
        {
            switching = false;
        }
    }

    private async Task SetForceHttpsAsync(bool on)
    {
        switching = true;
        try
        {
            site = await Hosting.SetForceHttpsAsync(actor, Id, on);
            Snackbar.Add(on ? "Visitors over HTTP are now sent to HTTPS" : "The site answers over HTTP again", Severity.Success);
        }
        catch (PanelRefusedException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
        finally
        {
            switching = false;
        }
    }

    private async Task UploadAsync(InputFileChangeEventArgs e)
    {
        uploadError = null;
        if (e.File.Size > MaxZipBytes)
        {
            uploadError = $"{e.File.Name} is {Format.Traffic(e.File.Size)}; a zip of at most {Format.Traffic(MaxZipBytes)} can be uploaded here.";
            return;
        }

        uploading = true;
        try
        {
            using var buffer = new MemoryStream();
            await using (var input = e.File.OpenReadStream(MaxZipBytes))
            {
                await input.CopyToAsync(buffer);
            }

            buffer.Position = 0;
            site = await Hosting.UploadAsync(actor, Id, buffer);
            Snackbar.Add($"{e.File.Name} is live on {site.Domain}", Severity.Success);
            if (entries is not null)
            {
                await OpenAsync(folder);
            }
        }
        catch (PanelRefusedException ex)
        {
            uploadError = ex.Message;
        }
        catch (PanelNotFoundException)
        {
            notFound = true;
        }
        finally
        {
            uploading = false;
        }
    }

    private IEnumerable<(string Name, string Path)> Crumbs()
    {
        var parts = folder.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            yield return (parts[i], string.Join('/', parts.Take(i + 1)));
        }
    }

    private async Task OpenAsync(string path)
    {
        filesError = null;
        renaming = null;
        try
        {
            entries = await Hosting.FilesAsync(actor, Id, path);
            folder = path;
        }
        catch (PanelRefusedException ex)
        {
            filesError = ex.Message;
        }
    }

    private async Task UploadFileAsync(InputFileChangeEventArgs e)
    {
        filesError = null;
        if (e.File.Size > HostingService.MaxFileBytes)
        {
            filesError = $"{e.File.Name} is {Format.Traffic(e.File.Size)}; the file manager takes files up to {Format.Traffic(HostingService.MaxFileBytes)} (upload a zip for more).";
            return;
        }

        try
        {
            await using var input = e.File.OpenReadStream(HostingService.MaxFileBytes);
            site = await Hosting.WriteFileAsync(actor, Id, folder, e.File.Name, input);
            Snackbar.Add($"{e.File.Name} saved", Severity.Success);
            await OpenAsync(folder);
        }
        catch (PanelRefusedException ex)
        {
            filesError = ex.Message;
        }
    }

    private async Task RenameAsync(SiteFileEntry entry)
    {
        filesError = null;
        try
        {
            await Hosting.RenameFileAsync(actor, Id, entry.Path, newName ?? "");
            await OpenAsync(folder);
        }
        catch (PanelRefusedException ex)
        {
            filesError = ex.Message;
        }
    }

    private async Task DeleteFileAsync(SiteFileEntry entry)
    {
        if (await Dialogs.ShowMessageBoxAsync($"Delete {entry.Name}?", entry.IsFolder ? "The folder and everything in it are removed for good." : "The file is removed for good.", yesText: "Delete", cancelText: "Cancel") != true)
        {
            return;
        }

        try
        {
            site = await Hosting.DeleteFileAsync(actor, Id, entry.Path);
            await OpenAsync(folder);
        }
        catch (PanelRefusedException ex)
        {
            filesError = ex.Message;
        }
    }

    private async Task AddAliasAsync()
    {
        aliasError = null;
        try
        {
            site = await Hosting.AddAliasAsync(actor, Id, alias ?? "");
            alias = null;
        }
        catch (PanelRefusedException ex)
        {
            aliasError = ex.Message;
        }
    }

    private async Task RemoveAliasAsync(string name)
    {
        try
        {
            site = await Hosting.RemoveAliasAsync(actor, Id, name);
        }
        catch (PanelRefusedException ex)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
    }

    private async Task DeleteAsync()
    {
        if (site is null || await Dialogs.ShowMessageBoxAsync($"Delete {site.Domain}?", "Its content, names and certificate are removed for good; the edge answers its names with \"no website here\".", yesText: "Delete", cancelText: "Cancel") != true)
        {
            return;
        }

        try
        {
            await Hosting.DeleteSiteAsync(actor, Id);
            Snackbar.Add($"{site.Domain} deleted", Severity.Info);
            Navigation.NavigateTo("/websites");
        }
        catch (Exception ex) when (ex is PanelRefusedException or PanelNotFoundException)
        {
            Snackbar.Add(ex.Message, Severity.Error);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        stop.Dispose();
    }
}
