using Microsoft.AspNetCore.Components;

namespace Panel.Web.Components.Layout;

/// <summary>The signed-in shell: app bar, navigation drawer, theme and the Mud providers.</summary>
public sealed partial class MainLayout : IDisposable
{
    private bool drawerOpen = true;
    private bool interactive;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    /// <summary>Whether the dark theme is on.</summary>
    [CascadingParameter(Name = "DarkMode")]
    public bool DarkMode { get; set; }

    private string ThemeToggleUrl => Hosting.ThemeEndpoint.ToggleUrl(DarkMode, Navigation);

    private void ToggleDrawer() => drawerOpen = !drawerOpen;

    /// <inheritdoc />
    protected override void OnInitialized() => Navigation.LocationChanged += OnLocationChanged;

    /// <inheritdoc />
    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender && RendererInfo.IsInteractive)
        {
            interactive = true;
            StateHasChanged();
        }
    }

    private void OnLocationChanged(object? sender, Microsoft.AspNetCore.Components.Routing.LocationChangedEventArgs e) => InvokeAsync(StateHasChanged);

    /// <inheritdoc />
    public void Dispose() => Navigation.LocationChanged -= OnLocationChanged;
}
