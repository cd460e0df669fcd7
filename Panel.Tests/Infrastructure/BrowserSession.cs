using Microsoft.Playwright;

namespace Panel.Tests.Infrastructure;

/// <summary>Debian's Chromium driven by Playwright (never a downloaded browser), one context per session.</summary>
public sealed class BrowserSession : IAsyncDisposable
{
    private static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    ];

    private readonly IPlaywright playwright;
    private readonly IBrowser browser;

    private BrowserSession(IPlaywright playwright, IBrowser browser, IBrowserContext context, IPage page)
    {
        this.playwright = playwright;
        this.browser = browser;
        Context = context;
        Page = page;
    }

    /// <summary>The browser context (cookies live here).</summary>
    public IBrowserContext Context { get; }

    /// <summary>The tab.</summary>
    public IPage Page { get; }

    /// <summary>Launches Chromium headless with a fresh profile, on <paramref name="baseAddress"/>.</summary>
    public static async Task<BrowserSession> StartAsync(Uri baseAddress)
    {
        File.Exists(TestEnvironment.ChromiumPath).ShouldBeTrue($"{TestEnvironment.ChromiumPath} is missing: ./panel test installs Debian's chromium");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = TestEnvironment.ChromiumPath,
            Headless = true,
            Args = ChromiumArgs,
        });
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1366, Height = 850 },
        });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        return new BrowserSession(playwright, browser, context, page);
    }

    /// <summary>Saves a full-page screenshot under the artifacts folder.</summary>
    public async Task ScreenshotAsync(string name)
        => await Page.ScreenshotAsync(new PageScreenshotOptions
        {
            Path = Path.Combine(TestEnvironment.ArtifactsDirectory, "screenshots", name + ".png"),
            FullPage = true,
        });

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Context.DisposeAsync();
        await browser.DisposeAsync();
        playwright.Dispose();
    }
}
