using System.Buffers.Binary;
using System.Text;

namespace Panel.Hypervisor.Guest;

/// <summary>Parses one OpenSSH public key line (<c>type base64 [comment]</c>) and checks that the blob really holds that key type.</summary>
public static class SshPublicKey
{
    private static readonly HashSet<string> KnownTypes =
    [
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ];

    /// <summary>Parses a key; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string? line, out string normalized, out string? error)
    {
        normalized = "";
        error = null;
        var parts = (line ?? "").Trim().Split((char[])[' ', '\t'], 3, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2)
        {
            error = "an SSH public key looks like 'ssh-ed25519 AAAA… comment'";
            return false;
        }

        if (!KnownTypes.Contains(parts[0]))
        {
            error = $"'{parts[0]}' is not a supported SSH key type";
            return false;
        }

        byte[] blob;
        try
        {
            blob = Convert.FromBase64String(parts[1]);
        }
        catch (FormatException)
        {
            error = "the key data is not valid base64";
            return false;
        }

        if (blob.Length < 4 + parts[0].Length + 4)
        {
            error = "the key data is too short";
            return false;
        }

        var typeLength = BinaryPrimitives.ReadInt32BigEndian(blob);
        if (typeLength <= 0 || typeLength > 64 || blob.Length < 4 + typeLength
            || Encoding.ASCII.GetString(blob, 4, typeLength) != parts[0])
        {
            error = "the key data does not match its type";
            return false;
        }

        var comment = parts.Length > 2 ? " " + new string(parts[2].Where(c => !char.IsControl(c)).ToArray()) : "";
        normalized = $"{parts[0]} {parts[1]}{comment}";
        return true;
    }
}
