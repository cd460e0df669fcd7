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

    /// <summary>An IP pool was created.</summary>
    public const string IpPoolCreated = "ippool.created";

    /// <summary>A plan was created or changed.</summary>
    public const string PlanChanged = "plan.changed";

    /// <summary>A VPS was ordered.</summary>
    public const string VpsCreate = "vps.create";

    /// <summary>A VPS operation was asked for (start, stop, reboot, delete, ...).</summary>
    public const string VpsOperation = "vps.operation";

    /// <summary>A VPS request was refused.</summary>
    public const string VpsRefused = "vps.refused";

    /// <summary>A VPS's web console was opened.</summary>
    public const string VpsConsole = "vps.console";

    /// <summary>Reconciliation found or repaired drift.</summary>
    public const string Reconciled = "vps.reconciled";

    /// <summary>An admin added credit to a customer's balance.</summary>
    public const string CreditTopUp = "billing.topup";

    /// <summary>An admin recorded a payment for an invoice.</summary>
    public const string PaymentRecorded = "billing.payment";

    /// <summary>A charge through the payment gateway succeeded, was declined, or its outcome is not known yet.</summary>
    public const string GatewayCharge = "billing.gateway_charge";

    /// <summary>An invoice was issued.</summary>
    public const string InvoiceIssued = "billing.invoice_issued";

    /// <summary>An invoice was settled from the customer's balance.</summary>
    public const string InvoicePaid = "billing.invoice_paid";

    /// <summary>A billing request was refused (bad amount, paid invoice, not an admin); nothing changed.</summary>
    public const string BillingRefused = "billing.refused";

    /// <summary>An admin set or removed a country's tax rate.</summary>
    public const string TaxRateChanged = "billing.tax_rate";

    /// <summary>A customer's billing profile (country, business, VAT number) was changed.</summary>
    public const string BillingProfileChanged = "billing.profile";

    /// <summary>An admin changed the seller's details (country, name, address, VAT number).</summary>
    public const string SellerChanged = "billing.seller";

    /// <summary>An admin created a coupon.</summary>
    public const string CouponCreated = "billing.coupon_created";

    /// <summary>A customer redeemed a coupon.</summary>
    public const string CouponRedeemed = "billing.coupon_redeemed";

    /// <summary>An admin issued a credit note.</summary>
    public const string CreditNoteIssued = "billing.credit_note";

    /// <summary>An admin changed a plan's prices.</summary>
    public const string PlanPrices = "plan.prices";

    /// <summary>Dunning queued a payment reminder for an invoice.</summary>
    public const string DunningReminder = "dunning.reminder";

    /// <summary>Dunning suspended a customer's VPSes for an overdue invoice.</summary>
    public const string DunningSuspend = "dunning.suspend";

    /// <summary>Dunning lifted its suspension once the overdue invoices were paid.</summary>
    public const string DunningUnsuspend = "dunning.unsuspend";

    /// <summary>Dunning deleted a customer's VPSes for an invoice long overdue.</summary>
    public const string DunningTerminate = "dunning.terminate";

    /// <summary>A VPS used up its plan's traffic allowance and its port speed dropped to the plan's throttle speed.</summary>
    public const string VpsThrottle = "vps.throttle";

    /// <summary>A throttled VPS's billing period ended and its plan's port speed was restored.</summary>
    public const string VpsUnthrottle = "vps.unthrottle";

    /// <summary>An admin enabled or disabled an image for ordering.</summary>
    public const string ImageChanged = "image.changed";

    /// <summary>An admin locked a customer's account (no sign-in until unlocked).</summary>
    public const string AccountLocked = "account.locked";

    /// <summary>An admin unlocked a customer's account.</summary>
    public const string AccountUnlocked = "account.unlocked";

    /// <summary>A VPS was renamed.</summary>
    public const string VpsRenamed = "vps.renamed";

    /// <summary>A customer added an SSH key.</summary>
    public const string SshKeyAdded = "sshkey.added";

    /// <summary>A customer deleted an SSH key.</summary>
    public const string SshKeyDeleted = "sshkey.deleted";

    /// <summary>A backup archive was downloaded.</summary>
    public const string BackupDownloaded = "vps.backup_downloaded";

    /// <summary>A hosting plan was created.</summary>
    public const string HostingPlan = "hosting.plan";

    /// <summary>A website was added, changed (aliases, suspension) or deleted.</summary>
    public const string HostingSite = "hosting.site";

    /// <summary>A website's content was uploaded.</summary>
    public const string HostingContent = "hosting.content";

    /// <summary>A tenant's hosting was terminated (dunning deleted their container): sites, names, certificates and the space removed.</summary>
    public const string HostingTerminated = "hosting.terminate";

    /// <summary>A tenant moved their hosting to another plan (the container is resized to it).</summary>
    public const string HostingPlanChanged = "hosting.change-plan";

    /// <summary>A tenant (or an admin for them) cancelled their hosting: container deleted, sites and space removed.</summary>
    public const string HostingCancelled = "hosting.cancel";

    /// <summary>A hosting request was refused (bad domain, taken, over the plan, bad zip); nothing changed.</summary>
    public const string HostingRefused = "hosting.refused";

    /// <summary>A user made an API token.</summary>
    public const string ApiTokenCreated = "api.token_created";

    /// <summary>A user revoked an API token.</summary>
    public const string ApiTokenRevoked = "api.token_revoked";

    /// <summary>A token request was refused (an admin token asked for by a customer).</summary>
    public const string ApiTokenRefused = "api.token_refused";

    /// <summary>An API call was refused for its credentials (unknown, expired or revoked token).</summary>
    public const string ApiUnauthorized = "api.unauthorized";
}
