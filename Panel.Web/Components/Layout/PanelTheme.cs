using MudBlazor;

namespace Panel.Web.Components.Layout;

/// <summary>The panel's colours and type, light and dark.</summary>
public static class PanelTheme
{
    /// <summary>The theme handed to <c>MudThemeProvider</c>.</summary>
    public static MudTheme Theme { get; } = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#1f6feb",
            Secondary = "#6e40c9",
            AppbarBackground = "#0d1b2a",
            AppbarText = "#ffffff",
            Background = "#f6f8fa",
            DrawerBackground = "#ffffff",
            Success = "#1a7f37",
            Error = "#cf222e",
            Warning = "#9a6700",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#58a6ff",
            Secondary = "#bc8cff",
            AppbarBackground = "#010409",
            Background = "#0d1117",
            Surface = "#161b22",
            DrawerBackground = "#0d1117",
            Success = "#3fb950",
            Error = "#f85149",
            Warning = "#d29922",
        },
        LayoutProperties = new LayoutProperties { DrawerWidthLeft = "240px", DefaultBorderRadius = "6px" },
    };
}
