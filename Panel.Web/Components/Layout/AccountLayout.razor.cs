using Microsoft.AspNetCore.Components;

namespace Panel.Web.Components.Layout;

/// <summary>The layout of the static account pages.</summary>
public sealed partial class AccountLayout
{
    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    /// <summary>Whether the dark theme is on.</summary>
    [CascadingParameter(Name = "DarkMode")]
    public bool DarkMode { get; set; }

    private string ThemeToggleUrl => Hosting.ThemeEndpoint.ToggleUrl(DarkMode, Navigation);
}
