using System.Globalization;
using System.Text.Json;

namespace Panel.Hypervisor.Drivers.Qemu.Qmp;

/// <summary>A QEMU version, as <c>query-version</c> and the QMP greeting give it.</summary>
/// <param name="Major">Major version (7 for 7.2.0).</param>
/// <param name="Minor">Minor version (2 for 7.2.0).</param>
/// <param name="Micro">Micro version (0 for 7.2.0).</param>
/// <param name="Package">The distribution's package string, e.g. <c>Debian 1:7.2+dfsg-7</c> (may be empty).</param>
public sealed record QmpVersion(int Major, int Minor, int Micro, string Package)
{
    /// <summary>Whether this version is at least <paramref name="major"/>.<paramref name="minor"/>.</summary>
    public bool IsAtLeast(int major, int minor) => Major > major || (Major == major && Minor >= minor);

    /// <summary>The version as <c>major.minor.micro</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Micro}");

    /// <summary>Reads <c>{"qemu": {"major": …, "minor": …, "micro": …}, "package": …}</c>.</summary>
    internal static QmpVersion Parse(JsonElement version)
    {
        var qemu = version.GetProperty("qemu");
        var package = version.TryGetProperty("package", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() ?? string.Empty : string.Empty;
        return new QmpVersion(qemu.GetProperty("major").GetInt32(), qemu.GetProperty("minor").GetInt32(), qemu.GetProperty("micro").GetInt32(), package.Trim());
    }
}
