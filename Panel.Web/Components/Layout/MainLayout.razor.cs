using Microsoft.AspNetCore.Components;

namespace Panel.Web.Components.Layout;

/// <summary>The signed-in shell: app bar, navigation drawer, theme and the Mud providers.</summary>
public sealed partial class MainLayout
{
    private bool drawerOpen = true;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    /// <summary>Whether the dark theme is on.</summary>
    [CascadingParameter(Name = "DarkMode")]
    public bool DarkMode { get; set; }

    private string ThemeToggleUrl => Hosting.ThemeEndpoint.ToggleUrl(DarkMode, Navigation);

    private void ToggleDrawer() => drawerOpen = !drawerOpen;
}
