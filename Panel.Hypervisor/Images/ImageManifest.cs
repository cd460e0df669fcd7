using System.Text.Json;
using System.Text.Json.Serialization;

namespace Panel.Hypervisor.Images;

/// <summary>An image's <c>manifest.json</c>, written by <c>./panel images</c>.</summary>
/// <param name="Name">The image name.</param>
/// <param name="Version">The recipe version it was built with.</param>
/// <param name="CreatedAt">When it was built (UTC).</param>
/// <param name="SizeBytes">Size of the root filesystem.</param>
/// <param name="Sha256">sha256 of a canonical tar of the root filesystem.</param>
/// <param name="Formats">The forms present: <c>rootfs</c> (folder), <c>ext4</c> (<c>disk.ext4</c>), <c>qcow2</c> (<c>disk.qcow2</c>).</param>
public sealed record ImageManifest(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("createdAt")] DateTime CreatedAt,
    [property: JsonPropertyName("sizeBytes")] long SizeBytes,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("formats")] IReadOnlyList<string> Formats)
{
    /// <summary>Reads a manifest file.</summary>
    public static ImageManifest Read(string path)
        => JsonSerializer.Deserialize<ImageManifest>(File.ReadAllText(path))
           ?? throw new EngineException(EngineErrorCode.HostFailure, $"{path} is empty");
}

/// <summary>An image ready for use.</summary>
/// <param name="Manifest">Its manifest.</param>
/// <param name="Directory">Its folder.</param>
public sealed record ImageInfo(ImageManifest Manifest, string Directory)
{
    /// <summary>The root filesystem folder (read-only lower layer of every instance made from it).</summary>
    public string RootFs => Path.Combine(Directory, "rootfs");

    /// <summary>The ext4 disk form (<c>disk.ext4</c>), built by <c>./panel images</c> from the root filesystem.</summary>
    public string Ext4Disk => Path.Combine(Directory, "disk.ext4");

    /// <summary>Whether the image has the given form (<c>rootfs</c>, <c>ext4</c>, <c>qcow2</c>).</summary>
    public bool HasFormat(string format) => Manifest.Formats.Contains(format, StringComparer.Ordinal);
}
