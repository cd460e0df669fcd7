using System.Text.RegularExpressions;

namespace Panel.Hypervisor.Images;

/// <summary>The built images of this node (folders with a manifest under the images directory).</summary>
public sealed partial class ImageStore(string directory)
{
    /// <summary>The images folder.</summary>
    public string Directory { get; } = directory;

    /// <summary>Every complete image (a folder whose manifest parses), by name.</summary>
    public IReadOnlyList<ImageInfo> List()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }

        var images = new List<ImageInfo>();
        foreach (var dir in System.IO.Directory.EnumerateDirectories(Directory))
        {
            var name = Path.GetFileName(dir);
            var manifest = Path.Combine(dir, "manifest.json");
            if (name.StartsWith('.') || !File.Exists(manifest))
            {
                continue; // an interrupted build
            }

            images.Add(new ImageInfo(ImageManifest.Read(manifest), dir));
        }

        return images.OrderBy(i => i.Manifest.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>The image called <paramref name="name"/>, or an invalid-spec error naming the images that exist.</summary>
    public ImageInfo Get(string name)
    {
        if (string.IsNullOrEmpty(name) || !SafeName().IsMatch(name))
        {
            throw EngineException.Invalid("Image", $"'{name}' is not an image name");
        }

        var dir = Path.Combine(Directory, name);
        var manifest = Path.Combine(dir, "manifest.json");
        if (!File.Exists(manifest) || !System.IO.Directory.Exists(Path.Combine(dir, "rootfs")))
        {
            var known = string.Join(", ", List().Select(i => i.Manifest.Name));
            throw EngineException.Invalid("Image", $"unknown image '{name}' (available: {(known.Length > 0 ? known : "none - run ./panel images")})");
        }

        return new ImageInfo(ImageManifest.Read(manifest), dir);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{0,63}$")]
    private static partial Regex SafeName();
}
