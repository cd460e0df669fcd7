namespace Panel.Core.Domain.Accounts;

/// <summary>The two roles of the panel. Every account has exactly one of them.</summary>
public static class Roles
{
    /// <summary>Runs the hosting company: nodes, plans, every tenant.</summary>
    public const string Admin = "Admin";

    /// <summary>A tenant: sees and acts on their own servers, sites and invoices only.</summary>
    public const string Customer = "Customer";

    /// <summary>Both roles, for seeding.</summary>
    public static readonly IReadOnlyList<string> All = [Admin, Customer];
}
