namespace Panel.Hypervisor.Host;

/// <summary>How the host mounts its cgroup controllers.</summary>
public enum CgroupMode
{
    /// <summary>No cgroup filesystem found.</summary>
    None,

    /// <summary>Only v1 controller hierarchies.</summary>
    V1,

    /// <summary>v1 controllers plus a (usually empty) v2 hierarchy at <c>/sys/fs/cgroup/unified</c>.</summary>
    Hybrid,

    /// <summary>The unified v2 hierarchy only (what most production hosts run).</summary>
    V2,
}
