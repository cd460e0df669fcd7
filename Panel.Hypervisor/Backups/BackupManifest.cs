using System.Text.Json;
using System.Text.Json.Serialization;
using Panel.Hypervisor.Instances;

namespace Panel.Hypervisor.Backups;

/// <summary>The <c>manifest.json</c> at the head of a backup archive.</summary>
/// <param name="FormatVersion">The archive format (<see cref="BackupArchive.FormatVersion"/>).</param>
/// <param name="EngineId">The instance's engine id at backup time.</param>
/// <param name="Driver">The driver that made it (<c>lxc</c>, <c>uml</c>, <c>qemu</c>); restore uses the same driver.</param>
/// <param name="Image">The image name.</param>
/// <param name="ImageSha256">The image build the disks belong to, or empty when the disks need no image.</param>
/// <param name="Spec">The instance's spec, without password or password hash.</param>
/// <param name="Disks">The disk files in the archive with their sizes and content hashes.</param>
/// <param name="Consistency">How the driver made the copy consistent (frozen, stopped).</param>
/// <param name="CreatedAt">When the backup was taken (UTC).</param>
public sealed record BackupManifest(
    [property: JsonPropertyName("formatVersion")] int FormatVersion,
    [property: JsonPropertyName("engineId")] string EngineId,
    [property: JsonPropertyName("driver")] string Driver,
    [property: JsonPropertyName("image")] string Image,
    [property: JsonPropertyName("imageSha256")] string ImageSha256,
    [property: JsonPropertyName("spec")] InstanceSpec Spec,
    [property: JsonPropertyName("disks")] IReadOnlyList<BackupDisk> Disks,
    [property: JsonPropertyName("consistency")] string Consistency,
    [property: JsonPropertyName("createdAt")] DateTime CreatedAt)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>The manifest as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses a manifest; null when the text is not one.</summary>
    public static BackupManifest? TryParse(string json)
    {
        try
        {
            var m = JsonSerializer.Deserialize<BackupManifest>(json, Json);
            return m is { EngineId: not null, Driver: not null, Spec: not null, Disks: not null } ? m : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>One disk file of a backup.</summary>
/// <param name="Name">The file name inside the archive (and in the driver's export folder).</param>
/// <param name="SizeBytes">Its apparent size.</param>
/// <param name="Sha256">Its content hash: format 2, <see cref="DiskHash"/> (sha256 over the sha256 of each 1 MiB block); format 1, the sha256 of its whole content (holes read as zeros).</param>
public sealed record BackupDisk(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("sizeBytes")] long SizeBytes,
    [property: JsonPropertyName("sha256")] string Sha256);
