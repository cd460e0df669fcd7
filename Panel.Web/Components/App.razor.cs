using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Routing;
using Microsoft.AspNetCore.Components.Web;
using Panel.Web.Hosting;

namespace Panel.Web.Components;

/// <summary>The document. Account pages render statically (they set cookies); everything else is interactive.</summary>
public sealed partial class App
{
    private bool darkMode;

    /// <summary>The request being rendered (present during static rendering and prerendering).</summary>
    [CascadingParameter]
    private HttpContext HttpContext { get; set; } = default!;

    private IComponentRenderMode? PageRenderMode
        => HttpContext.AcceptsInteractiveRouting() ? RenderMode.InteractiveServer : null;

    /// <inheritdoc />
    protected override void OnInitialized() => darkMode = ThemeEndpoint.IsDark(HttpContext);
}
