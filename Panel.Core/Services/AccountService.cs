using System.Net.Mail;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;

namespace Panel.Core.Services;

/// <summary>The outcome of a sign-up: the new user, or messages keyed by form field.</summary>
public sealed record SignUpResult(PanelUser? User, IReadOnlyDictionary<string, string[]> Errors)
{
    /// <summary>Whether the account was created.</summary>
    public bool Succeeded => User is not null;
}

/// <summary>Customer accounts: self-sign-up with validation that never leaves half an account behind.</summary>
public sealed class AccountService(UserManager<PanelUser> users, SettingsService settings, AuditLog audit, TimeProvider clock)
{
    /// <summary>Form field names used as keys of <see cref="SignUpResult.Errors"/>.</summary>
    public const string EmailField = "Email", PasswordField = "Password", FormField = "";

    private const string EmailTaken = "An account with this email already exists. Sign in instead.";

    /// <summary>Creates a customer account when sign-up is open and the input is valid.</summary>
    public async Task<SignUpResult> SignUpCustomerAsync(string? email, string? password, Actor visitor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        var errors = new Dictionary<string, List<string>>();
        void Add(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list))
            {
                errors[field] = list = [];
            }

            list.Add(message);
        }

        if (!await settings.IsSignUpEnabledAsync(cancellationToken))
        {
            Add(FormField, "Sign-up is closed. Ask the hosting company for an account.");
            return Fail(errors);
        }

        email = email?.Trim() ?? "";
        if (!IsValidEmail(email))
        {
            Add(EmailField, "Enter a valid email address, like name@example.com.");
        }

        if (string.IsNullOrEmpty(password))
        {
            Add(PasswordField, "Choose a password.");
        }

        if (errors.Count > 0)
        {
            return Fail(errors);
        }

        // Validate the password before creating anything, so a weak one leaves no row behind.
        var user = new PanelUser
        {
            UserName = email,
            Email = email,
            DisplayName = email.Split('@')[0],
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        foreach (var validator in users.PasswordValidators)
        {
            var r = await validator.ValidateAsync(users, user, password!);
            foreach (var e in r.Errors)
            {
                Add(PasswordField, e.Description);
            }
        }

        if (await users.FindByEmailAsync(email) is not null)
        {
            Add(EmailField, EmailTaken);
        }

        if (errors.Count > 0)
        {
            return Fail(errors);
        }

        IdentityResult created;
        try
        {
            created = await users.CreateAsync(user, password!);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Two sign-ups for one email at the same instant: the unique index decides, the loser gets a field message.
            Add(EmailField, EmailTaken);
            return Fail(errors);
        }

        if (!created.Succeeded)
        {
            foreach (var e in created.Errors)
            {
                Add(FieldOf(e.Code), e.Code is "DuplicateUserName" or "DuplicateEmail" ? EmailTaken : e.Description);
            }

            return Fail(errors);
        }

        var role = await users.AddToRoleAsync(user, Roles.Customer);
        if (!role.Succeeded)
        {
            // Undo: an account without a role must not exist.
            await users.DeleteAsync(user);
            Add(FormField, "The account could not be created. Try again.");
            return Fail(errors);
        }

        await audit.RecordAsync(visitor with { UserId = user.Id, Name = email }, AuditActions.SignUp, $"user:{user.Id}", null, cancellationToken);
        return new SignUpResult(user, new Dictionary<string, string[]>());
    }

    /// <summary>Records a completed sign-in (any method): the user's last sign-in time and the audit log.</summary>
    public async Task RecordSignInAsync(PanelUser user, Actor actor, string method, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        user.LastSignInAt = clock.GetUtcNow().UtcDateTime;
        await users.UpdateAsync(user);
        await audit.RecordAsync(actor, AuditActions.SignIn, $"user:{user.Id}", method, cancellationToken);
    }

    /// <summary>A practical email check: one @, a dotted domain, no spaces, at most 256 characters.</summary>
    public static bool IsValidEmail(string? email)
    {
        if (string.IsNullOrWhiteSpace(email) || email.Length > 256 || email.Any(char.IsWhiteSpace))
        {
            return false;
        }

        if (!MailAddress.TryCreate(email, out var parsed) || parsed.Address != email)
        {
            return false;
        }

        var at = email.LastIndexOf('@');
        var domain = email[(at + 1)..];
        return at > 0 && domain.Contains('.', StringComparison.Ordinal) && !domain.StartsWith('.') && !domain.EndsWith('.');
    }

    private static string FieldOf(string code) => code switch
    {
        _ when code.StartsWith("Password", StringComparison.Ordinal) => PasswordField,
        "InvalidEmail" or "DuplicateEmail" or "InvalidUserName" or "DuplicateUserName" => EmailField,
        _ => FormField,
    };

    private static SignUpResult Fail(Dictionary<string, List<string>> errors)
        => new(null, errors.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray()));
}
