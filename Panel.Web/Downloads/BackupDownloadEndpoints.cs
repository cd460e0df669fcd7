using Panel.Core.Services;
using Panel.Web.Components.Account;

namespace Panel.Web.Downloads;

/// <summary>Backup archives for download: streamed to the server's owner or an admin, 404 for anyone else.</summary>
public static class BackupDownloadEndpoints
{
    /// <summary>The address of a backup's archive.</summary>
    public static string PathOf(int vpsId, int backupId) => $"/servers/{vpsId}/backups/{backupId}/download";

    /// <summary>Maps <c>GET /servers/{id}/backups/{backupId}/download</c> (signed-in users only).</summary>
    public static IEndpointRouteBuilder MapBackupDownloads(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/servers/{id:int}/backups/{backupId:int}/download", DownloadAsync).RequireAuthorization();
        return endpoints;
    }

    /// <summary>Streams the archive (with range requests, so a broken download resumes); another customer's or an unknown backup is 404 alike.</summary>
    private static async Task<IResult> DownloadAsync(int id, int backupId, HttpContext context, VpsService vpses)
    {
        var actor = CurrentActor.From(context.User, context.Connection.RemoteIpAddress?.ToString());
        try
        {
            var archive = await vpses.BackupArchiveAsync(actor, id, backupId, context.RequestAborted);
            return Results.File(archive.Path, "application/zstd", archive.FileName, enableRangeProcessing: true);
        }
        catch (PanelNotFoundException)
        {
            return Results.NotFound();
        }
    }
}
