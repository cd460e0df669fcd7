namespace Panel.Hypervisor.Cgroups;

/// <summary>Removing a guest's cgroup folders.</summary>
public static class CgroupFolders
{
    /// <summary>
    /// Removes each folder (rmdir: the kernel refuses while a task is left), waiting up to a second
    /// for the last tasks of a guest that was just killed to be reaped; throws when one is still busy
    /// then. Folders already gone are fine (idempotent).
    /// </summary>
    public static async Task RemoveAsync(IEnumerable<string> folders, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(folders);
        foreach (var dir in folders)
        {
            for (var attempt = 0; Directory.Exists(dir); attempt++)
            {
                try
                {
                    Directory.Delete(dir);
                }
                catch (IOException) when (attempt < 50)
                {
                    await Task.Delay(20, cancellationToken);
                }
            }
        }
    }
}
