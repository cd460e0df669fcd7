using Panel.Web.Components.Account;

namespace Panel.Tests.Web;

public sealed class RedirectTests
{
    private const string Base = "http://127.0.0.1:5080/";

    [Theory]
    [InlineData(null, "/")]
    [InlineData("", "/")]
    [InlineData("/admin", "/admin")]
    [InlineData("/admin?tab=a:b", "/admin?tab=a:b")]
    [InlineData("account/login", "/account/login")]
    [InlineData("http://127.0.0.1:5080/account/login-2fa?returnUrl=%2F", "/account/login-2fa?returnUrl=%2F")]
    [InlineData("https://evil.example/", "/")]
    [InlineData("//evil.example/", "/")]
    [InlineData("/\\evil.example/", "/")]
    [InlineData("javascript:alert(1)", "/")]
    [InlineData("http://127.0.0.1:5081/other-port", "/")]
    public void LocalPath_KeepsLocalTargets_AndSendsEverythingElseHome(string? target, string expected)
        => IdentityRedirectManager.LocalPath(target, Base).ShouldBe(expected);
}
