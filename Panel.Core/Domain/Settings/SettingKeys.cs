namespace Panel.Core.Domain.Settings;

/// <summary>The keys of <see cref="Setting"/> rows.</summary>
public static class SettingKeys
{
    /// <summary>Whether visitors may create customer accounts themselves (default: yes).</summary>
    public const string SignUpEnabled = "signup.enabled";

    /// <summary>The installation's one currency, an ISO 4217 code (default EUR); fixed once an invoice exists.</summary>
    public const string BillingCurrency = "billing.currency";

    /// <summary>Whether the dunning job acts (default off).</summary>
    public const string DunningEnabled = "dunning.enabled";

    /// <summary>Days before the due date a reminder goes out, comma-separated (default 3).</summary>
    public const string DunningRemindBefore = "dunning.remind_before_days";

    /// <summary>Days after the due date a reminder goes out, comma-separated (default 1,7).</summary>
    public const string DunningRemindAfter = "dunning.remind_after_days";

    /// <summary>Days overdue after which a customer's VPSes are suspended (default 14).</summary>
    public const string DunningSuspendAfter = "dunning.suspend_after_days";

    /// <summary>Days overdue after which a customer's VPSes are deleted (default 30).</summary>
    public const string DunningTerminateAfter = "dunning.terminate_after_days";
    /// <summary>The seller's country (ISO 3166-1 alpha-2): taxes and the reverse charge are decided against it.</summary>
    public const string SellerCountry = "billing.seller_country";

    /// <summary>The seller's name on invoices.</summary>
    public const string SellerName = "billing.seller_name";

    /// <summary>The seller's address on invoices (lines separated by new lines).</summary>
    public const string SellerAddress = "billing.seller_address";

    /// <summary>The seller's VAT number on invoices.</summary>
    public const string SellerVatNumber = "billing.seller_vat";
}
