using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Panel.Core.Domain.Accounts;
using Panel.Core.Domain.Audit;

namespace Panel.Core.Services;

/// <summary>The outcome of <see cref="AdminSeeder.SeedAsync"/>.</summary>
/// <param name="Created">Whether an admin account was created now.</param>
/// <param name="Email">The admin's email.</param>
/// <param name="GeneratedPassword">The password, when it was generated (printed once, never stored in clear).</param>
public sealed record AdminSeedResult(bool Created, string Email, string? GeneratedPassword);

/// <summary>Creates the roles and, when no admin exists yet, the first admin account.</summary>
public sealed class AdminSeeder(UserManager<PanelUser> users, RoleManager<IdentityRole<Guid>> roles, AuditLog audit, TimeProvider clock)
{
    /// <summary>The email used when <c>PANEL_ADMIN_EMAIL</c> is not set.</summary>
    public const string DefaultEmail = "admin@vpspanel.local";

    /// <summary>Ensures both roles exist and that there is at least one admin.</summary>
    /// <param name="email">The first admin's email (default <see cref="DefaultEmail"/>).</param>
    /// <param name="password">The first admin's password; null to generate one.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <exception cref="InvalidOperationException">The email or password is not acceptable; the message says why.</exception>
    public async Task<AdminSeedResult> SeedAsync(string? email, string? password, CancellationToken cancellationToken = default)
    {
        foreach (var role in Roles.All)
        {
            if (!await roles.RoleExistsAsync(role))
            {
                Check(await roles.CreateAsync(new IdentityRole<Guid>(role)), $"role {role}");
            }
        }

        email = string.IsNullOrWhiteSpace(email) ? DefaultEmail : email.Trim();
        var admins = await users.GetUsersInRoleAsync(Roles.Admin);
        if (admins.Count > 0)
        {
            return new AdminSeedResult(false, admins[0].Email ?? email, null);
        }

        var generated = string.IsNullOrEmpty(password) ? GeneratePassword() : null;
        var user = new PanelUser
        {
            UserName = email,
            Email = email,
            EmailConfirmed = true,
            DisplayName = "Administrator",
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        Check(await users.CreateAsync(user, generated ?? password!), $"admin account {email}");
        Check(await users.AddToRoleAsync(user, Roles.Admin), $"admin role for {email}");
        await audit.RecordAsync(Actor.System, AuditActions.AdminSeeded, $"user:{user.Id}", email, cancellationToken);
        return new AdminSeedResult(true, email, generated);
    }

    /// <summary>A 20-character password with upper, lower and digits, from a CSPRNG.</summary>
    public static string GeneratePassword()
    {
        const string upper = "ABCDEFGHJKLMNPQRSTUVWXYZ";
        const string lower = "abcdefghijkmnpqrstuvwxyz";
        const string digits = "23456789";
        const string all = upper + lower + digits;
        var chars = new char[20];
        chars[0] = upper[RandomNumberGenerator.GetInt32(upper.Length)];
        chars[1] = lower[RandomNumberGenerator.GetInt32(lower.Length)];
        chars[2] = digits[RandomNumberGenerator.GetInt32(digits.Length)];
        for (var i = 3; i < chars.Length; i++)
        {
            chars[i] = all[RandomNumberGenerator.GetInt32(all.Length)];
        }

        RandomNumberGenerator.Shuffle(chars.AsSpan());
        return new string(chars);
    }

    private static void Check(IdentityResult result, string what)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"cannot create {what}: {string.Join(" ", result.Errors.Select(e => e.Description))}");
        }
    }
}
