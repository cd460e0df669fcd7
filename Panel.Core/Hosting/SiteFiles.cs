using System.Globalization;
using System.Text;
using Panel.Core.Services;
using Panel.Hypervisor;
using Panel.Hypervisor.Instances;

namespace Panel.Core.Hosting;

/// <summary>A file or folder in a site's folder.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Path">Its path relative to the site folder (no leading slash).</param>
/// <param name="IsFolder">Whether it is a folder.</param>
/// <param name="Bytes">Its size (files).</param>
/// <param name="ModifiedAt">When it last changed (UTC).</param>
public sealed record SiteFileEntry(string Name, string Path, bool IsFolder, long Bytes, DateTime ModifiedAt);

/// <summary>
/// The small file manager of a site: list, upload, delete and rename inside its folder in the tenant's container,
/// through the engine's exec like every write (never on the guest's disk from the host). Paths are checked here
/// (relative, no <c>..</c>, no control characters) and again inside the container, where the script resolves the
/// path and refuses anything whose real path leaves the site folder and any symbolic link on the way: a tenant's
/// container holds all of their sites, and a link planted in one must not reach another. Paths go to the script as
/// arguments, never into its text.
/// </summary>
public sealed class SiteFiles(DriverRegistry drivers)
{
    /// <summary>The longest path accepted.</summary>
    public const int MaxPath = 1024;

    // $1 = site folder, $2 = relative path ("" for the folder itself). Sets $target or exits 3 (outside) / 4 (a link).
    private const string Resolve = """
        site="$1"; rel="$2"; target="$site${rel:+/$rel}"
        set -f; p="$site"; IFS=/; for part in $rel; do p="$p/$part"; [ -L "$p" ] && { echo "link: $rel" >&2; exit 4; }; done; unset IFS; set +f
        if [ -e "$target" ]; then
          real=$(realpath "$target") || exit 3
          case "$real" in "$site"|"$site"/*) ;; *) echo "outside: $rel" >&2; exit 3 ;; esac
        fi

        """;

    /// <summary>Checks a relative path from a user: the normalized path, or a refusal.</summary>
    public static string CheckPath(string? path, string field = "Path")
    {
        var p = (path ?? "").Trim();
        if (p.Length > MaxPath || p.Any(char.IsControl) || p.Contains('\\', StringComparison.Ordinal))
        {
            throw new PanelRefusedException("That is not a usable path (control characters, backslashes or too long).", field);
        }

        var parts = p.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Any(x => x is ".." or "."))
        {
            throw new PanelRefusedException($"{p} leaves the site folder; paths stay inside it.", field);
        }

        return string.Join('/', parts);
    }

    /// <summary>Checks a file or folder name (one path segment).</summary>
    public static string CheckName(string? name, string field = "Name")
    {
        var n = (name ?? "").Trim();
        if (n.Length is 0 or > 255 || n is "." or ".." || n.Contains('/', StringComparison.Ordinal) || n.Contains('\\', StringComparison.Ordinal) || n.Any(char.IsControl))
        {
            throw new PanelRefusedException("A name is 1-255 characters without slashes or control characters, and not . or ..", field);
        }

        return n;
    }

    /// <summary>The entries of a folder, folders first, by name.</summary>
    public async Task<IReadOnlyList<SiteFileEntry>> ListAsync(string engineId, int siteId, string path, CancellationToken cancellationToken = default)
    {
        var rel = CheckPath(path);
        const string script = Resolve + """
            [ -z "$rel" ] && [ ! -e "$site" ] && exit 0
            [ -d "$target" ] || { echo "not a folder: $rel" >&2; exit 5; }
            for f in "$target"/* "$target"/.[!.]* "$target"/..?*; do
              [ -e "$f" ] || [ -L "$f" ] || continue
              if [ -L "$f" ]; then t=link; elif [ -d "$f" ]; then t=dir; elif [ -f "$f" ]; then t=file; else t=other; fi
              printf '%s %s %s ' "$t" "$(stat -c %s "$f")" "$(stat -c %Y "$f")"; printf '%s' "${f##*/}" | od -An -tx1 | tr -d ' \n'; echo
            done
            """;
        var output = await RunAsync(engineId, siteId, script, rel, [], null, cancellationToken);
        var entries = new List<SiteFileEntry>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ');
            if (f.Length != 4 || f[0] is not ("dir" or "file"))
            {
                continue; // links and special files are not shown (nor managed) here
            }

            var name = Encoding.UTF8.GetString(Convert.FromHexString(f[3]));
            entries.Add(new SiteFileEntry(name, rel.Length == 0 ? name : rel + "/" + name, f[0] == "dir",
                long.Parse(f[1], CultureInfo.InvariantCulture), DateTimeOffset.FromUnixTimeSeconds(long.Parse(f[2], CultureInfo.InvariantCulture)).UtcDateTime));
        }

        return [.. entries.OrderByDescending(e => e.IsFolder).ThenBy(e => e.Name, StringComparer.Ordinal)];
    }

    /// <summary>Writes a file (replacing one of that name) into a folder of the site; returns the site's content bytes after it.</summary>
    public async Task<long> WriteAsync(string engineId, int siteId, string folder, string name, byte[] content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var rel = Join(CheckPath(folder), CheckName(name));
        const string script = Resolve + """
            [ -d "$target" ] && { echo "a folder has that name: $rel" >&2; exit 5; }
            mkdir -p "$(dirname "$target")"
            rm -f "$target.vpspanel-new"
            base64 -d > "$target.vpspanel-new" && mv -f "$target.vpspanel-new" "$target"
            """;
        return SumSizes(await RunAsync(engineId, siteId, script + Total, rel, [], Convert.ToBase64String(content), cancellationToken));
    }

    /// <summary>Deletes a file or a folder with everything in it (never the site folder itself); returns the site's content bytes after it.</summary>
    public async Task<long> DeleteAsync(string engineId, int siteId, string path, CancellationToken cancellationToken = default)
    {
        var rel = CheckPath(path);
        if (rel.Length == 0)
        {
            throw new PanelRefusedException("The site folder itself cannot be deleted; delete the site instead.", "Path");
        }

        const string script = Resolve + """
            [ -e "$target" ] || { echo "no such file: $rel" >&2; exit 5; }
            rm -rf "$target"
            """;
        return SumSizes(await RunAsync(engineId, siteId, script + Total, rel, [], null, cancellationToken));
    }

    /// <summary>Renames a file or folder in its folder.</summary>
    public async Task RenameAsync(string engineId, int siteId, string path, string newName, CancellationToken cancellationToken = default)
    {
        var rel = CheckPath(path);
        var name = CheckName(newName, "NewName");
        if (rel.Length == 0)
        {
            throw new PanelRefusedException("The site folder itself cannot be renamed.", "Path");
        }

        const string script = Resolve + """
            [ -e "$target" ] || { echo "no such file: $rel" >&2; exit 5; }
            to="$(dirname "$target")/$3"
            { [ -e "$to" ] || [ -L "$to" ]; } && { echo "$3 exists already" >&2; exit 5; }
            mv "$target" "$to"
            """;
        await RunAsync(engineId, siteId, script, rel, [name], null, cancellationToken);
    }

    // Appended to a change: the sizes of every file in the site folder afterwards.
    private const string Total = """

        find "$site" -type f -exec stat -c 'size %s' {} + || true
        """;

    private static long SumSizes(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(l => l.StartsWith("size ", StringComparison.Ordinal)).Sum(l => long.Parse(l[5..], CultureInfo.InvariantCulture));

    private static string Join(string folder, string name) => folder.Length == 0 ? name : folder + "/" + name;

    private async Task<string> RunAsync(string engineId, int siteId, string script, string rel, IReadOnlyList<string> extra, string? stdin, CancellationToken cancellationToken)
    {
        ExecResult r;
        try
        {
            r = await drivers.Get("lxc").ExecAsync(new ExecOptions(engineId, ["sh", "-c", script, "sh", HostingRuntime.SiteFolder(siteId), rel, .. extra], TimeSpan.FromMinutes(2), stdin), cancellationToken);
        }
        catch (EngineException ex)
        {
            throw new PanelRefusedException($"The websites' server is not ready ({ex.Message}); try again in a moment.");
        }

        var detail = r.StdErr.Trim();
        return r.ExitCode switch
        {
            0 => r.StdOut,
            3 => throw new PanelRefusedException($"/{rel} leads outside the site folder; nothing was changed.", "Path"),
            4 => throw new PanelRefusedException($"/{rel} goes through a symbolic link; links are not followed here, nothing was changed.", "Path"),
            5 => throw new PanelRefusedException(detail.Length > 0 ? char.ToUpperInvariant(detail[0]) + detail[1..] + "." : "Refused.", "Path"),
            _ => throw new PanelRefusedException($"The websites' server refused the change: {(detail.Length > 0 ? detail : "exit code " + r.ExitCode.ToString(CultureInfo.InvariantCulture))}"),
        };
    }
}
