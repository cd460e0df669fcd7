namespace Panel.Core.Domain.Audit;

/// <summary>Action names written to the audit log.</summary>
public static class AuditActions
{
    /// <summary>A customer created an account.</summary>
    public const string SignUp = "account.signup";

    /// <summary>A successful sign-in.</summary>
    public const string SignIn = "account.signin";

    /// <summary>A failed sign-in (wrong password or unknown email).</summary>
    public const string SignInFailed = "account.signin_failed";

    /// <summary>An account reached the failed-attempt limit and is locked for a while.</summary>
    public const string LockedOut = "account.locked_out";

    /// <summary>A sign-out.</summary>
    public const string SignOut = "account.signout";

    /// <summary>Two-factor authentication turned on, off or reset.</summary>
    public const string TwoFactorChanged = "account.two_factor";

    /// <summary>A password change.</summary>
    public const string PasswordChanged = "account.password";

    /// <summary>The first admin account was created at start.</summary>
    public const string AdminSeeded = "account.admin_seeded";

    /// <summary>An admin drained a node or put it back in service.</summary>
    public const string NodeMaintenance = "node.maintenance";

    /// <summary>An admin changed an installation setting.</summary>
    public const string SettingChanged = "settings.changed";
}
